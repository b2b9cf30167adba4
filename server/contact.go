package server

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// StoreContact remembers when the key store last answered, as a whole and
// per pool, so that keys leased from memory during an outage can be
// refused once the view is too old to trust, and so operators can see how
// stale it is. Per pool matters on Redis Cluster: each pool lives in one
// slot, and the master holding it can be down while every other node
// answers PING.
type StoreContact struct {
	last  atomic.Int64 // unix nanoseconds; 0: never
	pools sync.Map     // pool name → *atomic.Int64, unix nanoseconds
	now   func() time.Time
}

// NewStoreContact returns a StoreContact whose answers are stamped by now
// (time.Now when nil), so tests with a fake clock stay consistent.
func NewStoreContact(now func() time.Time) *StoreContact {
	return &StoreContact{now: now}
}

func (c *StoreContact) clock() time.Time {
	if c.now != nil {
		return c.now()
	}
	return time.Now()
}

// Answered records that the store answered at t.
func (c *StoreContact) Answered(t time.Time) { c.last.Store(t.UnixNano()) }

// AnsweredFor records that the store answered now, for pool ("" for an
// answer outside any pool). It is store.AnswerHook's callback.
func (c *StoreContact) AnsweredFor(pool string) {
	t := c.clock().UnixNano()
	c.last.Store(t)
	if pool == "" {
		return
	}
	v, ok := c.pools.Load(pool)
	if !ok {
		v, _ = c.pools.LoadOrStore(pool, new(atomic.Int64))
	}
	v.(*atomic.Int64).Store(t)
}

// Since is how long ago the store last answered; a store that never
// answered is infinitely long ago.
func (c *StoreContact) Since(now time.Time) time.Duration { return since(&c.last, now) }

// Fresh reports whether the store answered within max of now.
func (c *StoreContact) Fresh(now time.Time, max time.Duration) bool {
	return c.Since(now) <= max
}

// PoolSince is how long ago the store last answered for pool: its own
// reads and probes. A pool never heard of falls back to the store as a
// whole (a pool the view has not loaded is read from the store anyway).
func (c *StoreContact) PoolSince(pool string, now time.Time) time.Duration {
	if v, ok := c.pools.Load(pool); ok {
		return since(v.(*atomic.Int64), now)
	}
	return c.Since(now)
}

// PoolFresh reports whether the store answered for pool within max of now.
func (c *StoreContact) PoolFresh(pool string, now time.Time, max time.Duration) bool {
	return c.PoolSince(pool, now) <= max
}

// Pools lists the pools the store has answered for, sorted.
func (c *StoreContact) Pools() []string {
	var out []string
	c.pools.Range(func(k, _ any) bool { out = append(out, k.(string)); return true })
	slices.Sort(out)
	return out
}

// Stalest is the age of the oldest answer over the store as a whole and
// every pool: how stale the least fresh part of the view may be.
func (c *StoreContact) Stalest(now time.Time) time.Duration {
	worst := c.Since(now)
	c.pools.Range(func(_, v any) bool { worst = max(worst, since(v.(*atomic.Int64), now)); return true })
	return worst
}

func since(v *atomic.Int64, now time.Time) time.Duration {
	n := v.Load()
	if n == 0 {
		return time.Duration(1<<63 - 1)
	}
	return now.Sub(time.Unix(0, n))
}
