package server

import (
	"context"
	"time"

	"google.golang.org/grpc/codes"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/budget"
	"github.com/keybroker/keybroker/internal/store"
)

// AmongPicker is implemented by selectors that can lease the first key,
// from a random position on, that accept takes: the in-memory view. With
// budgets, GetRandom falls back on it when the pool's strategy keeps
// choosing keys with no budget left.
type AmongPicker interface {
	PickAmong(pool string, accept func(keyID string) bool) (store.Picked, bool)
}

// BudgetObserver is told what budgets did, for metrics; an Observer that
// implements it is told. Per pool, never per key.
type BudgetObserver interface {
	// BudgetRefused counts a GetRandom refused with NO_BUDGET.
	BudgetRefused(pool string)
	// UsageReported counts observations applied by ReportUsage.
	UsageReported(pool string, n int)
}

// WithBudgets leases keys by their rate-limit budgets, as t keeps them
// (docs/budgets.md). Without it GetRandom ignores budgets and ReportUsage
// accepts reports without using them.
func WithBudgets(t *budget.Tracker) Option { return func(s *Service) { s.budgets = t } }

// pickTries is how many picks by the pool's strategy GetRandom makes
// before it looks for a key with budget left by scanning.
const pickTries = 3

// claimRounds bounds the claims one GetRandom makes before it refuses.
const claimRounds = 8

// usesGrant is what a budgeted lease covers.
type usesGrant struct {
	uses  int64
	until time.Time
}

// pick leases a key: by the pool's strategy alone when the pool has no
// budgets, else among the keys with budget left for the call.
func (s *Service) pick(ctx context.Context, req *pb.GetRandomRequest, now time.Time) (store.Picked, usesGrant, error) {
	pool := req.GetPool()
	if s.budgets == nil {
		picked, err := s.selector.Pick(ctx, pool)
		return picked, usesGrant{}, err
	}
	bp, tracked := s.budgets.Lookup(pool)
	if bp == nil {
		picked, err := s.selector.Pick(ctx, pool)
		if err != nil || tracked {
			return picked, usesGrant{}, err
		}
		// The pool's first lease on this replica: track it from now on
		// (only pools that lease, so no caller can fill memory with
		// names), and hold this lease to its budget too.
		if bp = s.budgets.Track(pool); bp == nil {
			return picked, usesGrant{}, nil
		}
		if n, ok := bp.Take(picked.KeyID, now, budget.Cost{Uses: max(int64(req.GetUses()), 1), Tokens: req.GetEstimatedTokens()}); ok {
			return picked, usesGrant{uses: n, until: bp.UsesUntil(now)}, nil
		}
	}
	cost := budget.Cost{Uses: max(int64(req.GetUses()), 1), Tokens: req.GetEstimatedTokens()}
	grant := func(n int64) usesGrant { return usesGrant{uses: n, until: bp.UsesUntil(now)} }
	for range pickTries {
		picked, err := s.selector.Pick(ctx, pool)
		if err != nil {
			return picked, usesGrant{}, err
		}
		if n, ok := bp.Take(picked.KeyID, now, cost); ok {
			return picked, grant(n), nil
		}
	}
	// Keys out of their slices: claim more from the shared count and look
	// again, until it is spent for every key (then refusing is right) or
	// a few rounds have passed (concurrent leases drained each claim).
	for attempt := range claimRounds {
		if picked, n, ok := s.scan(ctx, pool, bp, now, cost); ok {
			return picked, grant(n), nil
		}
		if attempt > 0 && bp.Spent(now) {
			break
		}
		if err := s.budgets.ClaimNow(ctx, pool); err != nil {
			// Budgets fail open: without the shared count the provider's
			// 429 is the backstop, which beats refusing every call.
			s.log.WarnContext(ctx, "budgets unavailable; leasing without them", "pool", pool, "err", err)
			picked, err := s.selector.Pick(ctx, pool)
			return picked, usesGrant{}, err
		}
	}
	return store.Picked{}, usesGrant{}, s.noBudget(pool, bp, now)
}

// scan looks for a key with budget left among every active key.
func (s *Service) scan(ctx context.Context, pool string, bp *budget.Pool, now time.Time, cost budget.Cost) (store.Picked, int64, bool) {
	var n int64
	if ap, ok := s.selector.(AmongPicker); ok {
		picked, ok := ap.PickAmong(pool, func(id string) bool {
			var took bool
			n, took = bp.Take(id, now, cost)
			return took
		})
		if ok {
			return picked, n, true
		}
		if _, loaded := s.selectorLen(pool); loaded {
			return store.Picked{}, 0, false
		}
	}
	for range pickTries {
		picked, err := s.selector.Pick(ctx, pool)
		if err != nil {
			return store.Picked{}, 0, false
		}
		if n, ok := bp.Take(picked.KeyID, now, cost); ok {
			return picked, n, true
		}
	}
	return store.Picked{}, 0, false
}

// selectorLen asks an in-memory selector whether it holds the pool.
func (s *Service) selectorLen(pool string) (int, bool) {
	if l, ok := s.selector.(interface{ Len(string) (int, bool) }); ok {
		return l.Len(pool)
	}
	return 0, false
}

// noBudget refuses a lease because no key has budget left, saying when
// the first one will: RESOURCE_EXHAUSTED rather than UNAVAILABLE, because
// the pool is not unwell but asked for more than its keys' limits, and
// clients retry UNAVAILABLE at once; RetryInfo says when to come back.
func (s *Service) noBudget(pool string, bp *budget.Pool, now time.Time) error {
	wait := time.Second
	if at, ok := bp.RetryAt(now); ok {
		wait = max(at.Sub(now), time.Millisecond)
	}
	if o, ok := s.observe.(BudgetObserver); ok {
		o.BudgetRefused(pool)
	}
	return statusError(codes.ResourceExhausted, pb.ErrorReason_ERROR_REASON_NO_BUDGET, pool, wait,
		"pool %q: every active key has spent its rate-limit budget for this window; the first has budget again in %s", pool, wait.Round(time.Millisecond))
}

// keyBudgets fills in the budget of each listed key from the shared count.
func (s *Service) keyBudgets(ctx context.Context, pool string, keys []*pb.Key) {
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.GetKeyId()
	}
	budgets := s.Budgets(ctx, pool, ids)
	for _, k := range keys {
		k.Budget = budgets[k.GetKeyId()]
	}
}

// Budgets returns the rate-limit budget of each key of ids that has a
// limit, in the current window, as GetAll and the status page show it.
// Keys without a limit, or a pool budgets do not track, are absent; a
// failed read is logged and yields nothing (budgets are advisory here).
func (s *Service) Budgets(ctx context.Context, pool string, ids []string) map[string]*pb.KeyBudget {
	if s.budgets == nil || len(ids) == 0 {
		return nil
	}
	bp, _ := s.budgets.Lookup(pool)
	if bp == nil {
		return nil
	}
	now := s.now()
	w := bp.Window()
	win := budget.WindowOf(now, w)
	used, err := s.keys.BudgetUsed(ctx, pool, win, ids)
	if err != nil {
		s.log.WarnContext(ctx, "read key budgets", "pool", pool, "err", err)
		return nil
	}
	out := make(map[string]*pb.KeyBudget, len(ids))
	for _, id := range ids {
		lim, src := bp.Limit(id)
		if !lim.Limited() {
			continue
		}
		u := used[id]
		out[id] = &pb.KeyBudget{
			RequestsLimit:     lim.Reqs,
			RequestsRemaining: remaining(lim.Reqs, u[0]),
			TokensLimit:       lim.Toks,
			TokensRemaining:   remaining(lim.Toks, u[1]),
			ResetTime:         timestamp(budget.WindowEnd(win, w)),
			Source:            src.String(),
		}
	}
	return out
}

func remaining(limit, used int64) int64 {
	if limit <= 0 {
		return 0
	}
	return max(limit-used, 0)
}
