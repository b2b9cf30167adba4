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
	heldDesc = prometheus.NewDesc(Namespace+"_removals_held",
		"Suspect keys per pool that the removal brake keeps from quarantine (0: the pool does not hold), read from Redis at scrape time.",
		[]string{"pool"}, nil)
	minKeysDesc = prometheus.NewDesc(Namespace+"_pool_min_keys",
		"The fewest active keys each pool should have (its policy's min_keys); KeybrokerPoolLow fires below it. Retired pools are not listed.", []string{"pool"}, nil)
)

// HoldReader is what the removals-held gauge reads: *store.Store is one.
// A PoolCounter that is also a HoldReader gets the gauge.
type HoldReader interface {
	Hold(ctx context.Context, pool string, window time.Duration) (store.Hold, error)
}

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
	if _, ok := c.src.(HoldReader); ok {
		ch <- heldDesc
	}
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
		for state, v := range map[store.State]int64{store.Active: n.Active, store.CoolingDown: n.CoolingDown, store.Suspect: n.Suspect,
			store.Disabled: n.Disabled, store.Quarantined: n.Quarantined} {
			ch <- prometheus.MustNewConstMetric(keysDesc, prometheus.GaugeValue, float64(v), p, string(state))
		}
		if !c.collectHold(ctx, ch, p) {
			ok = 0
		}
	}
	ch <- prometheus.MustNewConstMetric(keysUpDesc, prometheus.GaugeValue, ok)
}

// collectHold emits the pool's removals-held gauge when the source can
// read it, and says whether it could.
func (c *keysCollector) collectHold(ctx context.Context, ch chan<- prometheus.Metric, pool string) bool {
	hr, isReader := c.src.(HoldReader)
	if !isReader {
		return true
	}
	h, err := hr.Hold(ctx, pool, 0)
	if err != nil {
		c.log.Warn("metrics: read removal hold", "pool", pool, "err", err)
		return false
	}
	ch <- prometheus.MustNewConstMetric(heldDesc, prometheus.GaugeValue, float64(h.Keys), pool)
	return true
}
