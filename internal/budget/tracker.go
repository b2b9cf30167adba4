package budget

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keybroker/keybroker/internal/config"
	"github.com/keybroker/keybroker/internal/store"
)

// Store is the shared count: *store.Store.
type Store interface {
	ClaimBudget(ctx context.Context, pool string, keep time.Duration, asks []store.BudgetAsk) ([]store.BudgetGrant, error)
	ObserveBudget(ctx context.Context, pool string, keep time.Duration, obs []store.BudgetObservation) error
	BudgetLimits(ctx context.Context, pool string) (map[string]store.KeyLimits, error)
}

// Policies gives a pool's effective policy: *config.Config or
// *config.Live.
type Policies interface {
	Pool(name string) config.Pool
}

// Tracker holds this replica's budgets of every pool it leases from. Take
// and Lookup are safe for concurrent use and never touch Redis; Run claims
// slices and follows limits in the background.
type Tracker struct {
	st       Store
	policies Policies
	log      *slog.Logger
	now      func() time.Time
	refresh  time.Duration

	mu    sync.Mutex
	pools atomic.Pointer[map[string]*Pool]
}

// Option configures a Tracker.
type Option func(*Tracker)

// WithClock replaces time.Now; tests move it to cross windows.
func WithClock(now func() time.Time) Option { return func(t *Tracker) { t.now = now } }

// WithLogger sets the logger; the default discards.
func WithLogger(l *slog.Logger) Option { return func(t *Tracker) { t.log = l } }

// WithRefresh sets how often limits (the policy, tiers and learned limits
// in Redis) are re-read; the default is a second.
func WithRefresh(d time.Duration) Option {
	return func(t *Tracker) {
		if d > 0 {
			t.refresh = d
		}
	}
}

// New returns a Tracker over the shared count in st.
func New(st Store, policies Policies, opts ...Option) *Tracker {
	t := &Tracker{st: st, policies: policies, log: slog.New(slog.DiscardHandler), now: time.Now, refresh: time.Second}
	for _, o := range opts {
		o(t)
	}
	empty := map[string]*Pool{}
	t.pools.Store(&empty)
	return t
}

// Lookup returns the budgets of pool when any of its keys is limited, or
// nil, and whether the pool is tracked at all: the lease path's only cost
// for a pool without budgets.
func (t *Tracker) Lookup(pool string) (*Pool, bool) {
	p := (*t.pools.Load())[pool]
	if p == nil {
		return nil, false
	}
	if !p.active.Load() {
		return nil, true
	}
	return p, true
}

// Track starts following pool's budgets (once it has leased a key, so
// that names of pools that do not exist never take memory): the policy's
// limits apply at once, tiers and learned limits from the next refresh.
// It returns what Lookup would now.
func (t *Tracker) Track(pool string) *Pool {
	if _, tracked := t.Lookup(pool); !tracked {
		t.track(pool)
	}
	p, _ := t.Lookup(pool)
	return p
}

func (t *Tracker) track(pool string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := *t.pools.Load()
	if old[pool] != nil {
		return
	}
	p := newPool(pool)
	p.setPolicy(t.policies.Pool(pool))
	next := make(map[string]*Pool, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[pool] = p
	t.pools.Store(&next)
}

// all returns every tracked pool.
func (t *Tracker) all() []*Pool {
	m := *t.pools.Load()
	out := make([]*Pool, 0, len(m))
	for _, p := range m {
		out = append(out, p)
	}
	return out
}

// Run claims budget slices every pool's tick and re-reads limits every
// refresh interval, until ctx ends. Both run on the wall clock; windows
// follow the Tracker's clock.
func (t *Tracker) Run(ctx context.Context) error {
	tick := time.NewTicker(minTick)
	defer tick.Stop()
	refresh := time.NewTicker(t.refresh)
	defer refresh.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-refresh.C:
			for _, p := range t.all() {
				t.reload(ctx, p)
			}
		case <-tick.C:
			now := t.now()
			for _, p := range t.all() {
				if p.active.Load() && p.due(now) {
					_ = t.claim(ctx, p, now, false)
				}
			}
		}
	}
}

// reload applies the pool's policy and the limits Redis holds for its
// keys.
func (t *Tracker) reload(ctx context.Context, p *Pool) {
	pol := t.policies.Pool(p.name)
	p.setPolicy(pol)
	lims, err := t.st.BudgetLimits(ctx, p.name)
	if err != nil {
		t.log.Debug("budget: read limits", "pool", p.name, "err", err)
		return
	}
	p.setKeyLimits(pol, lims)
}

// ClaimNow claims slices for every key of pool that may have budget left,
// at once: the lease path calls it when no key has a slice, before
// refusing. Concurrent callers share one claim.
func (t *Tracker) ClaimNow(ctx context.Context, pool string) error {
	p, _ := t.Lookup(pool)
	if p == nil {
		return nil
	}
	gen := p.claims.Load()
	p.claimMu.Lock()
	defer p.claimMu.Unlock()
	if p.claims.Load() != gen {
		return nil // another caller claimed while this one waited
	}
	return t.claim(ctx, p, t.now(), true)
}

// claim sends one claim for the pool's keys that need budget.
func (t *Tracker) claim(ctx context.Context, p *Pool, now time.Time, force bool) error {
	asks := p.plan(now, force)
	defer p.claims.Add(1)
	if len(asks) == 0 {
		return nil
	}
	req := make([]store.BudgetAsk, len(asks))
	for i, a := range asks {
		lim := a.k.limitNow()
		req[i] = store.BudgetAsk{ID: a.id, Window: a.win, LimitReqs: lim.Reqs, WantReqs: a.reqs, LimitToks: lim.Toks, WantToks: a.toks}
	}
	grants, err := t.st.ClaimBudget(ctx, p.name, p.keep(), req)
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			t.log.Warn("budget: claim", "pool", p.name, "keys", len(asks), "err", err)
		}
		return err
	}
	for i, g := range grants {
		asks[i].k.grant(asks[i], g.Reqs, g.Toks, g.UsedReqs, g.UsedToks)
	}
	return nil
}

// limitNow reads the key's limits.
func (k *key) limitNow() Limit {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.limit
}

// Lookup0 returns the pool's budgets whether or not any key is limited
// yet, for the refresh loop and tests.
func (t *Tracker) Lookup0(pool string) *Pool {
	return (*t.pools.Load())[pool]
}

// Pools returns the pools this replica tracks that have limited keys.
func (t *Tracker) Pools() []string {
	var out []string
	for name, p := range *t.pools.Load() {
		if p.active.Load() {
			out = append(out, name)
		}
	}
	return out
}
