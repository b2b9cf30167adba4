// Package view keeps, in each broker, an in-memory copy of every pool's
// selectable (active) keys with their opened secrets, so that GetRandom
// picks a key without a Redis round trip and costs the same for ten keys
// or a million.
//
// The view follows Redis rather than owning anything: it loads each pool
// by paging through its active keys, applies every change notification
// (the scripts publish "added|removed|changed <ids>" on kb:{pool}:events)
// by fetching those keys' current state, and resynchronises a pool fully
// after every (re)subscription and on an interval, in pages and without
// stalling picks. A pool it has not loaded yet, or in which it holds no
// active key, is served by the store itself, which wakes due keys and says
// authoritatively why nothing can be leased.
//
// Leases are counted in memory and flushed to Redis in batches. Per pool,
// keys are chosen by the pool's selection strategy (config.Selection).
//
// Memory is compact and invisible to the garbage collector: per key a
// pointer-free 12-byte entry, 16 bytes of counters, its id and secret in
// one byte arena per pool, and a slot in a map keyed by the id's 8 bytes.
package view

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keybroker/keybroker/internal/config"
	"github.com/keybroker/keybroker/internal/store"
)

// Policies gives the effective policy of a pool, for its selection
// strategy. *config.Config is one.
type Policies interface {
	Pool(name string) config.Pool
}

// View is the in-memory view of every pool. Pick and Refresh are safe for
// concurrent use; Run keeps the view in step with Redis.
type View struct {
	keys     *store.Store
	policies Policies
	log      *slog.Logger
	now      func() time.Time
	randN    func(n uint64) uint64

	resyncEvery time.Duration
	flushEvery  time.Duration
	window      time.Duration
	pageSize    int

	mu    sync.Mutex                       // guards pool creation and run
	pools atomic.Pointer[map[string]*pool] // copy on write: Pick reads it without a lock
	run   *runState                        // nil until Run starts

	flushMu sync.Mutex // one Flush at a time, so a Flush that returns has seen earlier ones land
	flusher string     // names this view's usage batches in Redis (store.UsageBatch)
	seq     int64      // the last usage batch's number, under flushMu
}

// runState is what pools need from a running View to start their own
// goroutines.
type runState struct {
	ctx context.Context
	wg  sync.WaitGroup
}

// Option configures a View.
type Option func(*View)

// WithLogger sets the logger; the default discards.
func WithLogger(l *slog.Logger) Option { return func(v *View) { v.log = l } }

// WithClock replaces time.Now for last-used times.
func WithClock(now func() time.Time) Option { return func(v *View) { v.now = now } }

// WithRand replaces the random source of the random, weighted and
// least_used strategies: randN(n) must return a uniform value in [0, n)
// and be safe for concurrent use. Tests pass a seeded one.
func WithRand(randN func(n uint64) uint64) Option { return func(v *View) { v.randN = randN } }

// WithResyncInterval sets how often every pool is reloaded from Redis as a
// safety net for lost notifications (it also happens after every
// reconnect). The default is five minutes.
func WithResyncInterval(d time.Duration) Option {
	return func(v *View) {
		if d > 0 {
			v.resyncEvery = d
		}
	}
}

// WithFlushInterval sets how often lease counts and last-used times
// counted in memory are written to Redis. The default is one second.
func WithFlushInterval(d time.Duration) Option {
	return func(v *View) {
		if d > 0 {
			v.flushEvery = d
		}
	}
}

// WithWindow sets the length of the least_used strategy's window: lease
// counts start again from zero at each window's start. The default is one
// minute.
func WithWindow(d time.Duration) Option {
	return func(v *View) {
		if d > 0 {
			v.window = d
		}
	}
}

// WithPageSize sets how many keys one resync page or one fetch reads. The
// default is 1000.
func WithPageSize(n int) Option {
	return func(v *View) {
		if n > 0 {
			v.pageSize = n
		}
	}
}

// New returns an empty view over keys; Run loads and follows it.
func New(keys *store.Store, policies Policies, opts ...Option) *View {
	v := &View{
		keys:        keys,
		policies:    policies,
		log:         slog.New(slog.DiscardHandler),
		now:         time.Now,
		randN:       rand.Uint64N,
		resyncEvery: 5 * time.Minute,
		flushEvery:  time.Second,
		window:      time.Minute,
		pageSize:    1000,
		flusher:     store.NewFlusherName(),
	}
	for _, o := range opts {
		o(v)
	}
	empty := map[string]*pool{}
	v.pools.Store(&empty)
	return v
}

// Pick leases a key of pool from memory by the pool's strategy. A pool the
// view has not loaded, or in which it holds no active key, is picked by
// the store, which wakes due keys and returns the authoritative
// *store.NoKeyError when there is none.
func (v *View) Pick(ctx context.Context, pool string) (store.Picked, error) {
	if p := v.lookup(pool); p != nil && p.ready.Load() {
		if picked, ok := p.pick(v); ok {
			return picked, nil
		}
	}
	return v.keys.Pick(ctx, pool)
}

// Refresh re-reads keys of a pool from Redis and applies what they are
// now. The service calls it after a change it made itself (a report that
// parked a key, a removal), so that this replica's next GetRandom reflects
// it even before the notification arrives: each replica reads its own
// writes. Reading rather than just dropping the keys matters: by the time
// the service calls, another replica may have brought a key back, and the
// notification of that may already have been applied. If Redis cannot be
// read, the keys are dropped (this replica never leases a key it just
// parked) and the pool is resynchronised to repair any key dropped wrongly.
func (v *View) Refresh(ctx context.Context, pool string, ids ...string) {
	p := v.lookup(pool)
	if p == nil {
		return
	}
	if err := v.refresh(context.WithoutCancel(ctx), p, ids); err != nil {
		v.log.Warn("view: cannot re-read keys this broker changed; dropping them and resynchronising", "pool", pool, "keys", len(ids), "err", err)
		p.forget(ids)
		p.wantSync()
	}
}

// Forget drops keys of pool from memory at once, without reading Redis:
// the service calls it for a failure report it could only queue (the key
// store out of reach), so that a key reported rate limited or invalid is
// not leased again for the rest of the outage. When the report is applied
// later the key's change notification (or a Refresh) brings the view back
// in step; a key the report leaves active returns then.
func (v *View) Forget(pool string, ids ...string) {
	if p := v.lookup(pool); p != nil {
		p.forget(ids)
	}
}

// Contains reports whether the view would lease key id of pool now.
func (v *View) Contains(pool, id string) bool {
	p := v.lookup(pool)
	return p != nil && p.ready.Load() && p.contains(id)
}

// Len is how many keys of pool the view can lease, and whether the pool is
// loaded at all.
func (v *View) Len(pool string) (n int, loaded bool) {
	p := v.lookup(pool)
	if p == nil || !p.ready.Load() {
		return 0, false
	}
	return p.len(), true
}

// lookup returns the pool's view, or nil.
func (v *View) lookup(name string) *pool {
	return (*v.pools.Load())[name]
}

// poolFor returns the pool's view, creating it (and, once Run has
// started, its goroutines) on first sight.
func (v *View) poolFor(name string) *pool {
	if p := v.lookup(name); p != nil {
		return p
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	old := *v.pools.Load()
	if p := old[name]; p != nil {
		return p
	}
	p := newPool(name, v.policies.Pool(name).Selection)
	next := make(map[string]*pool, len(old)+1)
	for k, q := range old {
		next[k] = q
	}
	next[name] = p
	v.pools.Store(&next)
	if v.run != nil {
		v.start(p)
	}
	return p
}

// all returns every pool the view knows.
func (v *View) all() []*pool {
	m := *v.pools.Load()
	out := make([]*pool, 0, len(m))
	for _, p := range m {
		out = append(out, p)
	}
	return out
}

// ActiveIDs returns the ids of the keys of pool the view can lease, and
// whether the pool is loaded: the budget gauges sum over them.
func (v *View) ActiveIDs(pool string) ([]string, bool) {
	p := v.lookup(pool)
	if p == nil || !p.ready.Load() {
		return nil, false
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	ids := make([]string, len(p.ents))
	for i := range p.ents {
		ids[i] = p.idAt(i)
	}
	return ids, true
}
