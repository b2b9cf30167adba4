package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Budget layout, beside the keys (see layout.go):
//
//	kb:{pool}:bw:<window>  hash: "<id>:r", "<id>:t" → requests and tokens
//	                       claimed (or seen spent) in that budget window;
//	                       expires a few windows later
//	kb:{pool}:bl           hash: "<id>:t" → the key's tier name (Add),
//	                       "<id>:l" → "<requests> <tokens>" per window,
//	                       the limits learned from provider headers
var (
	budgetClaimScript   = script("budget_claim")
	budgetObserveScript = script("budget_observe")
)

// BudgetAsk asks for a slice of one key's budget in one window. A limit of
// 0 means the key is not limited in that dimension.
type BudgetAsk struct {
	ID                  string
	Window              int64
	LimitReqs, WantReqs int64
	LimitToks, WantToks int64
}

// BudgetGrant is what a claim got, and the window's count after it.
type BudgetGrant struct {
	Reqs, Toks         int64
	UsedReqs, UsedToks int64
}

// ClaimBudget claims slices of keys' window budgets atomically against
// the count every replica shares: a grant never takes a count past its
// limit. keep is how long a window's count is kept.
func (s *Store) ClaimBudget(ctx context.Context, pool string, keep time.Duration, asks []BudgetAsk) ([]BudgetGrant, error) {
	if len(asks) == 0 {
		return nil, nil
	}
	args := make([]any, 0, 1+6*len(asks))
	args = append(args, keep.Milliseconds())
	for _, a := range asks {
		args = append(args, a.ID, a.Window, a.LimitReqs, a.WantReqs, a.LimitToks, a.WantToks)
	}
	vals, err := s.eval(ctx, budgetClaimScript, pool, args...).Int64Slice()
	if err != nil {
		return nil, fmt.Errorf("claim budget in pool %q: %w", pool, err)
	}
	if len(vals) != 4*len(asks) {
		return nil, fmt.Errorf("claim budget in pool %q: %d values for %d asks", pool, len(vals), len(asks))
	}
	out := make([]BudgetGrant, len(asks))
	for i := range out {
		v := vals[4*i:]
		out[i] = BudgetGrant{Reqs: v[0], Toks: v[1], UsedReqs: v[2], UsedToks: v[3]}
	}
	return out, nil
}

// BudgetObservation is what a provider's headers said about one key: the
// least its window's count can be (-1: unknown) and the limits they state
// (0: unknown).
type BudgetObservation struct {
	ID                      string
	Window                  int64
	FloorReqs, FloorToks    int64
	LearnedReqs, LearnedTok int64
}

// ObserveBudget raises window counts to the floors observed and records
// learned limits, in one script.
func (s *Store) ObserveBudget(ctx context.Context, pool string, keep time.Duration, obs []BudgetObservation) error {
	if len(obs) == 0 {
		return nil
	}
	args := make([]any, 0, 1+6*len(obs))
	args = append(args, keep.Milliseconds())
	for _, o := range obs {
		args = append(args, o.ID, o.Window, o.FloorReqs, o.FloorToks, o.LearnedReqs, o.LearnedTok)
	}
	if err := s.run(ctx, budgetObserveScript, pool, args...); err != nil {
		return fmt.Errorf("observe budget in pool %q: %w", pool, err)
	}
	return nil
}

// KeyLimits is what Redis holds about one key's limits: a tier name given
// by Add, and per-window limits learned from provider headers (0: none).
type KeyLimits struct {
	Tier                  string
	LearnedReqs, LearnedT int64
}

// BudgetLimits reads every key's tier and learned limits of a pool.
func (s *Store) BudgetLimits(ctx context.Context, pool string) (map[string]KeyLimits, error) {
	m, err := s.rdb.HGetAll(ctx, prefix(pool)+"bl").Result()
	if err != nil {
		return nil, fmt.Errorf("read budget limits of pool %q: %w", pool, err)
	}
	out := make(map[string]KeyLimits, len(m))
	for field, v := range m {
		id, kind, ok := strings.Cut(field, ":")
		if !ok {
			continue
		}
		kl := out[id]
		switch kind {
		case "t":
			kl.Tier = v
		case "l":
			r, t, _ := strings.Cut(v, " ")
			kl.LearnedReqs, _ = strconv.ParseInt(r, 10, 64)
			kl.LearnedT, _ = strconv.ParseInt(t, 10, 64)
		}
		out[id] = kl
	}
	return out, nil
}

// SetTiers gives keys a tier ("" takes it away): the pool policy's limits
// of that name apply to them.
func (s *Store) SetTiers(ctx context.Context, pool string, ids, tiers []string) error {
	set := []any{}
	var del []string
	for i, id := range ids {
		if tiers[i] == "" {
			del = append(del, id+":t")
			continue
		}
		set = append(set, id+":t", tiers[i])
	}
	key := prefix(pool) + "bl"
	if len(set) > 0 {
		if err := s.rdb.HSet(ctx, key, set...).Err(); err != nil {
			return fmt.Errorf("set tiers in pool %q: %w", pool, err)
		}
	}
	if len(del) > 0 {
		if err := s.rdb.HDel(ctx, key, del...).Err(); err != nil {
			return fmt.Errorf("clear tiers in pool %q: %w", pool, err)
		}
	}
	return nil
}

// BudgetUsed reads how much of keys' budgets window has used (claimed by
// replicas, or seen spent by the provider), requests and tokens per key.
func (s *Store) BudgetUsed(ctx context.Context, pool string, window int64, ids []string) (map[string][2]int64, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	fields := make([]string, 0, 2*len(ids))
	for _, id := range ids {
		fields = append(fields, id+":r", id+":t")
	}
	vals, err := s.rdb.HMGet(ctx, prefix(pool)+"bw:"+strconv.FormatInt(window, 10), fields...).Result()
	if err != nil {
		return nil, fmt.Errorf("read budget window of pool %q: %w", pool, err)
	}
	out := make(map[string][2]int64, len(ids))
	for i, id := range ids {
		var u [2]int64
		for j := range 2 {
			if v, ok := vals[2*i+j].(string); ok {
				u[j], _ = strconv.ParseInt(v, 10, 64)
			}
		}
		out[id] = u
	}
	return out, nil
}
