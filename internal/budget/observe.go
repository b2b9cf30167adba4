package budget

import (
	"context"
	"time"

	"github.com/keybroker/keybroker/internal/store"
)

// Header is one provider rate-limit window as its headers state it.
type Header struct {
	Limit, Remaining       int64
	HasLimit, HasRemaining bool
	Reset                  time.Duration // until the provider's window is whole again
}

// Observation is what one provider answer said about the key that made
// the call, at time At.
type Observation struct {
	ID         string
	At         time.Time
	Reqs, Toks Header
}

// Observe applies what callers saw in providers' rate-limit headers:
//
//   - A stated limit is learned for the key (used when neither its tier
//     nor the pool declares one).
//   - What is remaining sets a floor under the shared count of the
//     observation's window: limit − remaining has been spent, whoever
//     spent it (calls made outside the broker count too). Only when the
//     provider's window ends no earlier than the broker's, so that the
//     floor belongs to the same span of time.
//   - Nothing remaining parks the key on this replica until the provider's
//     reset, at most one window on: a caller's word cannot park a key for
//     longer.
//
// Observations from before the previous window are dropped.
func (t *Tracker) Observe(ctx context.Context, pool string, obs []Observation) error {
	t.Track(pool)
	p := (*t.pools.Load())[pool]
	w := p.Window()
	cur := WindowOf(t.now(), w)
	out := make([]store.BudgetObservation, 0, len(obs))
	for _, o := range obs {
		win := WindowOf(o.At, w)
		if win < cur-1 || win > cur+1 {
			continue
		}
		lim, _ := p.Limit(o.ID)
		so := store.BudgetObservation{ID: o.ID, Window: win, FloorReqs: -1, FloorToks: -1}
		if o.Reqs.HasLimit && o.Reqs.Limit > 0 {
			so.LearnedReqs = o.Reqs.Limit
		}
		if o.Toks.HasLimit && o.Toks.Limit > 0 {
			so.LearnedTok = o.Toks.Limit
		}
		end := WindowEnd(win, w)
		so.FloorReqs = floor(o.At, end, w, lim.Reqs, o.Reqs)
		so.FloorToks = floor(o.At, end, w, lim.Toks, o.Toks)
		if out0(o.Reqs) || out0(o.Toks) {
			reset := min(max(o.Reqs.Reset, o.Toks.Reset), w)
			if k := (*p.keys.Load())[o.ID]; k != nil && reset > 0 {
				k.exhaust(o.At.Add(reset).UnixMilli())
			}
		}
		out = append(out, so)
	}
	return t.st.ObserveBudget(ctx, pool, p.keep(), out)
}

// floor is limit − remaining when the header's window ends no earlier
// than the broker's (less a tenth of a window for clocks and latency),
// else -1.
func floor(at, end time.Time, w time.Duration, limit int64, h Header) int64 {
	if !h.HasRemaining {
		return -1
	}
	if limit <= 0 && h.HasLimit {
		limit = h.Limit
	}
	if limit <= 0 || at.Add(h.Reset).Before(end.Add(-w/10)) {
		return -1
	}
	return min(max(limit-h.Remaining, 0), limit)
}

// out0 reports whether a header says nothing is left.
func out0(h Header) bool { return h.HasRemaining && h.Remaining <= 0 }
