package metrics

import (
	"context"
	"log/slog"
	"sync"
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
		"Keys per pool and state, read from Redis at scrape time (the last counts read while Redis does not answer; see keys_age_seconds).", []string{"pool", "state"}, nil)
	keysUpDesc = prometheus.NewDesc(Namespace+"_keys_scrape_success",
		"1 if the key counts could be read from Redis at this scrape, else 0.", nil, nil)
	keysAgeDesc = prometheus.NewDesc(Namespace+"_keys_age_seconds",
		"Seconds since the key counts shown were read from Redis.", nil, nil)
	heldDesc = prometheus.NewDesc(Namespace+"_removals_held",
		"Suspect keys per pool that the removal brake keeps from quarantine (0: the pool does not hold), read from Redis at scrape time.",
		[]string{"pool"}, nil)
	minKeysDesc = prometheus.NewDesc(Namespace+"_pool_min_keys",
		"The fewest active keys each pool should have (its policy's min_keys); KeybrokerPoolLow fires below it. Retired pools are not listed.", []string{"pool"}, nil)
)

// keysBackoff is how long scrapes serve the last counts without asking
// Redis after a read failed, so that an outage does not make every
// scrape wait for Redis.
const keysBackoff = 5 * time.Second

// HoldReader is what the removals-held gauge reads: *store.Store is one.
// A PoolCounter that is also a HoldReader gets the gauge.
type HoldReader interface {
	Hold(ctx context.Context, pool string, window time.Duration) (store.Hold, error)
}

// keysCollector reads key counts from Redis when scraped, so that the
// numbers are the shared truth whichever replica is asked. While Redis
// does not answer it serves the last counts it read, with their age,
// instead of holding every scrape for the Redis timeout.
type keysCollector struct {
	src     PoolCounter
	timeout time.Duration
	log     *slog.Logger
	now     func() time.Time
	minKeys func(pool string) int // nil: no keybroker_pool_min_keys

	mu        sync.Mutex // one scrape at a time; guards the fields below
	last      map[string]store.Counts
	readAt    time.Time // when every pool was last read; zero: never
	skipUntil time.Time // after a failure, no Redis read before this
}

// WatchKeys registers the keys-per-pool-and-state gauge, read from src at
// each scrape within timeout (at most a second).
func (m *Metrics) WatchKeys(src PoolCounter, timeout time.Duration, log *slog.Logger) {
	m.Registry.MustRegister(newKeysCollector(src, timeout, log, time.Now))
}

// WatchKeysWithPolicy is WatchKeys that also exports each listed pool's
// min_keys (keybroker_pool_min_keys), read from the live policy at each
// scrape: the threshold of KeybrokerPoolLow, per pool. A retired pool is no
// longer listed, so neither its counts nor its threshold are exported and
// its alerts resolve.
func (m *Metrics) WatchKeysWithPolicy(src PoolCounter, minKeys func(pool string) int, timeout time.Duration, log *slog.Logger) {
	c := newKeysCollector(src, timeout, log, time.Now)
	c.minKeys = minKeys
	m.Registry.MustRegister(c)
}

func newKeysCollector(src PoolCounter, timeout time.Duration, log *slog.Logger, now func() time.Time) *keysCollector {
	return &keysCollector{src: src, timeout: min(timeout, time.Second), log: log, now: now, last: map[string]store.Counts{}}
}

func (c *keysCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- keysDesc
	ch <- keysUpDesc
	ch <- keysAgeDesc
	if _, ok := c.src.(HoldReader); ok {
		ch <- heldDesc
	}
	if c.minKeys != nil {
		ch <- minKeysDesc
	}
}

func (c *keysCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ok := 0.0
	if now := c.now(); !now.Before(c.skipUntil) {
		if c.refresh() {
			ok, c.readAt = 1, now
		} else {
			c.skipUntil = now.Add(keysBackoff)
		}
	}
	// The removal brake is read only while Redis answers this scrape.
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	fresh := ok == 1
	for p, n := range c.last {
		if c.minKeys != nil {
			ch <- prometheus.MustNewConstMetric(minKeysDesc, prometheus.GaugeValue, float64(c.minKeys(p)), p)
		}
		for state, v := range map[store.State]int64{store.Active: n.Active, store.CoolingDown: n.CoolingDown, store.Suspect: n.Suspect,
			store.Disabled: n.Disabled, store.Quarantined: n.Quarantined} {
			ch <- prometheus.MustNewConstMetric(keysDesc, prometheus.GaugeValue, float64(v), p, string(state))
		}
		if fresh && !c.collectHold(ctx, ch, p) {
			ok = 0
		}
	}
	ch <- prometheus.MustNewConstMetric(keysUpDesc, prometheus.GaugeValue, ok)
	if !c.readAt.IsZero() {
		ch <- prometheus.MustNewConstMetric(keysAgeDesc, prometheus.GaugeValue, c.now().Sub(c.readAt).Seconds())
	}
}

// refresh reads every pool's counts into c.last and reports whether all
// were read; pools that failed keep their last counts.
func (c *keysCollector) refresh() bool {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	pools, err := c.src.Pools(ctx)
	if err != nil {
		c.log.Warn("metrics: list pools; serving the last key counts", "err", err)
		return false
	}
	all := true
	next := make(map[string]store.Counts, len(pools)) // a retired pool is no longer listed
	for _, p := range pools {
		n, err := c.src.Counts(ctx, p)
		if err != nil {
			c.log.Warn("metrics: count keys; serving the last counts", "pool", p, "err", err)
			all = false
			if old, ok := c.last[p]; ok {
				next[p] = old
			}
			continue
		}
		next[p] = n
	}
	c.last = next
	return all
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
