package store

import (
	"context"
	"fmt"
)

// Counts returns how many keys a pool holds in each state, without touching
// the keys themselves: one round trip of ZCARDs.
func (s *Store) Counts(ctx context.Context, pool string) (Counts, error) {
	p := prefix(pool)
	pipe := s.rdb.Pipeline()
	total := pipe.ZCard(ctx, p+"all")
	byState := make([]interface{ Val() int64 }, 0, len(States()))
	for _, st := range States() {
		byState = append(byState, pipe.ZCard(ctx, p+"ix:"+string(st)))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return Counts{}, fmt.Errorf("count pool %q: %w", pool, err)
	}
	return Counts{
		Total: total.Val(), Active: byState[0].Val(), CoolingDown: byState[1].Val(),
		Suspect: byState[2].Val(), Disabled: byState[3].Val(), Quarantined: byState[4].Val(),
	}, nil
}
