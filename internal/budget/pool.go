package budget

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/keybroker/keybroker/internal/config"
	"github.com/keybroker/keybroker/internal/store"
)

// Tick bounds: claims go out every window/40, between these.
const (
	minTick = 25 * time.Millisecond
	maxTick = 250 * time.Millisecond
)

// Pool is one pool's budgets on this replica.
type Pool struct {
	name   string
	active atomic.Bool  // some key is limited: leases consult the budget
	window atomic.Int64 // ms
	def    atomic.Pointer[Limit]
	keys   atomic.Pointer[map[string]*key] // copy on write

	mu       sync.Mutex // key creation
	claimMu  sync.Mutex // one forced claim at a time
	claims   atomic.Int64
	lastPlan atomic.Int64 // unix ms
}

func newPool(name string) *Pool {
	p := &Pool{name: name}
	empty := map[string]*key{}
	p.keys.Store(&empty)
	p.def.Store(&Limit{})
	p.window.Store(config.Limits{}.WindowLength().Milliseconds())
	return p
}

// Window is the pool's budget window.
func (p *Pool) Window() time.Duration { return time.Duration(p.window.Load()) * time.Millisecond }

// tick is how often the pool's slices are topped up.
func (p *Pool) tick() time.Duration {
	return min(max(p.Window()/40, minTick), maxTick)
}

// guard is how close to a window's end a lease is charged to the next
// window too: two ticks, more than a call takes from lease to provider on
// a busy machine. Slices for the next window are claimed ahead, four ticks
// before it starts.
func (p *Pool) guard() time.Duration { return 2 * p.tick() }

// UsesUntil is until when the uses of a lease granted at now may start
// calls: the window's end less the guard, so that a reused lease's calls,
// like single leases near the end, cannot spill into the next window
// uncounted. A lease granted within the guard (charged to both windows)
// may be used until the next window's end less the guard.
func (p *Pool) UsesUntil(now time.Time) time.Time {
	w, g := p.Window(), p.guard()
	end := WindowEnd(WindowOf(now, w), w)
	if end.Sub(now) <= g {
		end = end.Add(w)
	}
	return end.Add(-g)
}

// keep is how long Redis keeps a window's count: a few windows, so that
// late observations still find it.
func (p *Pool) keep() time.Duration { return 3*p.Window() + 10*time.Second }

// due reports whether the pool's tick has come, and starts the next one.
func (p *Pool) due(now time.Time) bool {
	last := p.lastPlan.Load()
	if now.UnixMilli()-last < p.tick().Milliseconds() {
		return false
	}
	return p.lastPlan.CompareAndSwap(last, now.UnixMilli())
}

// Take spends c from key id's budget at now. It returns how many uses it
// granted (1 to c.Uses) and whether it granted any. A key without limits
// grants c.Uses.
func (p *Pool) Take(id string, now time.Time, c Cost) (int64, bool) {
	c.Uses = max(c.Uses, 1)
	c.Tokens = max(c.Tokens, 0)
	k := p.key(id)
	if k == nil {
		return c.Uses, true
	}
	ms, w := now.UnixMilli(), p.window.Load()
	win := windowOfMs(ms, w)
	return k.take(ms, win, (win+1)*w, p.guard().Milliseconds(), c)
}

// key returns id's budget, creating it with the pool's limits when the
// pool declares some; nil when the key is not limited.
func (p *Pool) key(id string) *key {
	if k := (*p.keys.Load())[id]; k != nil {
		return k
	}
	def := *p.def.Load()
	if !def.Limited() {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	old := *p.keys.Load()
	if k := old[id]; k != nil {
		return k
	}
	k := newKey(def, SourcePool)
	p.put(old, id, k)
	return k
}

// put stores k under id in a copy of old. Callers hold mu.
func (p *Pool) put(old map[string]*key, id string, k *key) {
	next := make(map[string]*key, len(old)+1)
	for i, v := range old {
		next[i] = v
	}
	next[id] = k
	p.keys.Store(&next)
}

// RetryAt is when the earliest limited key of the pool may have budget
// again, for a refusal's RetryInfo; ok is false when no key is limited.
func (p *Pool) RetryAt(now time.Time) (time.Time, bool) {
	ms, w := now.UnixMilli(), p.window.Load()
	win := windowOfMs(ms, w)
	end := (win + 1) * w
	best, found := int64(0), false
	for _, k := range *p.keys.Load() {
		at, ok := k.backAt(ms, win, end, p.tick().Milliseconds())
		if ok && (!found || at < best) {
			best, found = at, true
		}
	}
	if !found {
		return time.Time{}, false
	}
	return time.UnixMilli(max(best, ms+1)), true
}

// Spent reports whether every limited key of the pool this replica knows
// has spent its window's shared budget (or was said to by the provider):
// only then is a refusal certain to be right.
func (p *Pool) Spent(now time.Time) bool {
	ms, w := now.UnixMilli(), p.window.Load()
	win := windowOfMs(ms, w)
	for _, k := range *p.keys.Load() {
		if k.limitNow().Limited() && !k.spentNow(ms, win) {
			return false
		}
	}
	return true
}

// Limit returns key id's limits per window and where they come from.
func (p *Pool) Limit(id string) (Limit, Source) {
	if k := (*p.keys.Load())[id]; k != nil {
		k.mu.Lock()
		defer k.mu.Unlock()
		return k.limit, k.source
	}
	if def := *p.def.Load(); def.Limited() {
		return def, SourcePool
	}
	return Limit{}, SourceNone
}

// plan collects the claims the pool's keys need now.
func (p *Pool) plan(now time.Time, force bool) []ask {
	ms, w := now.UnixMilli(), p.window.Load()
	win := windowOfMs(ms, w)
	at := instant{now: ms, win: win, end: (win + 1) * w, tick: p.tick().Milliseconds(), window: w}
	var out []ask
	for id, k := range *p.keys.Load() {
		out = k.plan(id, at, force, out)
	}
	return out
}

// setPolicy applies the pool policy's window and limits.
func (p *Pool) setPolicy(pol config.Pool) {
	p.window.Store(pol.Limits.WindowLength().Milliseconds())
	r, t := pol.Limits.PerWindow()
	def := Limit{Reqs: r, Toks: t}
	p.def.Store(&def)
	if def.Limited() {
		p.active.Store(true)
	}
	for _, k := range *p.keys.Load() {
		k.mu.Lock()
		if k.source == SourcePool {
			k.limit = def
		}
		k.mu.Unlock()
	}
}

// setKeyLimits applies the tiers and learned limits Redis holds: a key's
// tier wins over the pool's limits, which win over learned ones.
func (p *Pool) setKeyLimits(pol config.Pool, lims map[string]store.KeyLimits) {
	p.mu.Lock()
	defer p.mu.Unlock()
	def := *p.def.Load()
	old := *p.keys.Load()
	next, copied := old, false
	for id, kl := range lims {
		l, src := resolve(pol, def, kl)
		k := old[id]
		if k == nil {
			if !l.Limited() {
				continue
			}
			if !copied {
				copied = true
				next = make(map[string]*key, len(old)+len(lims))
				for i, v := range old {
					next[i] = v
				}
			}
			k = newKey(Limit{}, SourceNone)
			next[id] = k
		}
		k.setLimit(l, src)
	}
	if copied {
		p.keys.Store(&next)
	}
	active := def.Limited()
	for _, k := range next {
		if !active && k.limitNow().Limited() {
			active = true
		}
	}
	p.active.Store(active)
}

// resolve picks a key's limits by precedence.
func resolve(pol config.Pool, def Limit, kl store.KeyLimits) (Limit, Source) {
	if kl.Tier != "" {
		if t, ok := pol.Tier(kl.Tier); ok {
			r, tk := t.PerWindow()
			return Limit{Reqs: r, Toks: tk}, SourceKey
		}
	}
	if def.Limited() {
		return def, SourcePool
	}
	if kl.LearnedReqs > 0 || kl.LearnedT > 0 {
		return Limit{Reqs: kl.LearnedReqs, Toks: kl.LearnedT}, SourceLearned
	}
	return Limit{}, SourceNone
}
