package metrics

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/keybroker/keybroker/internal/store"
)

// PoolCounter is what the keys collector reads: *store.Store is one.
type PoolCounter interface {
	Pools(ctx context.Context) ([]string, error)
	Counts(ctx context.Context, pool string) (store.Counts, error)
}

var (
	keysDesc = prometheus.NewDesc(Namespace+"_keys",
		"Keys per pool and state, read from Redis at scrape time.", []string{"pool", "state"}, nil)
	keysUpDesc = prometheus.NewDesc(Namespace+"_keys_scrape_success",
		"1 if the key counts could be read from Redis at this scrape, else 0.", nil, nil)
	minKeysDesc = prometheus.NewDesc(Namespace+"_pool_min_keys",
		"The fewest active keys each pool should have (its policy's min_keys); KeybrokerPoolLow fires below it. Retired pools are not listed.", []string{"pool"}, nil)
)

// keysCollector reads key counts from Redis when scraped, so that the
// numbers are the shared truth whichever replica is asked.
type keysCollector struct {
	src     PoolCounter
	timeout time.Duration
	log     *slog.Logger
	minKeys func(pool string) int // nil: no keybroker_pool_min_keys
}

// WatchKeys registers the keys-per-pool-and-state gauge, read from src at
// each scrape within timeout.
func (m *Metrics) WatchKeys(src PoolCounter, timeout time.Duration, log *slog.Logger) {
	m.Registry.MustRegister(&keysCollector{src: src, timeout: timeout, log: log})
}

// WatchKeysWithPolicy is WatchKeys that also exports each listed pool's
// min_keys (keybroker_pool_min_keys), read from the live policy at each
// scrape: the threshold of KeybrokerPoolLow, per pool. A retired pool is no
// longer listed, so neither its counts nor its threshold are exported and
// its alerts resolve.
func (m *Metrics) WatchKeysWithPolicy(src PoolCounter, minKeys func(pool string) int, timeout time.Duration, log *slog.Logger) {
	m.Registry.MustRegister(&keysCollector{src: src, timeout: timeout, log: log, minKeys: minKeys})
}

func (c *keysCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- keysDesc
	ch <- keysUpDesc
	if c.minKeys != nil {
		ch <- minKeysDesc
	}
}

func (c *keysCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	ok := 1.0
	pools, err := c.src.Pools(ctx)
	if err != nil {
		c.log.Warn("metrics: list pools", "err", err)
		ok = 0
	}
	for _, p := range pools {
		if c.minKeys != nil {
			ch <- prometheus.MustNewConstMetric(minKeysDesc, prometheus.GaugeValue, float64(c.minKeys(p)), p)
		}
		n, err := c.src.Counts(ctx, p)
		if err != nil {
			c.log.Warn("metrics: count keys", "pool", p, "err", err)
			ok = 0
			continue
		}
		for state, v := range map[store.State]int64{store.Active: n.Active, store.CoolingDown: n.CoolingDown, store.Suspect: n.Suspect, store.Disabled: n.Disabled} {
			ch <- prometheus.MustNewConstMetric(keysDesc, prometheus.GaugeValue, float64(v), p, string(state))
		}
	}
	ch <- prometheus.MustNewConstMetric(keysUpDesc, prometheus.GaugeValue, ok)
}
