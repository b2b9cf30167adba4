package store

import (
	"context"
	"fmt"
	"time"
)

// Usage is what a broker counted in memory about one key since its last
// flush: how many leases, and when the latest.
type Usage struct {
	ID       string
	Leases   int64
	LastUsed time.Time
}

// RecordUsage adds leases counted in memory to the keys' lease counts and
// moves their last-used times forward, in batches. Keys that left the
// pool meanwhile are skipped: their counts go with them.
func (s *Store) RecordUsage(ctx context.Context, pool string, usage []Usage) error {
	for start := 0; start < len(usage); start += s.batch {
		chunk := usage[start:min(start+s.batch, len(usage))]
		args := make([]any, 0, 3*len(chunk))
		for _, u := range chunk {
			args = append(args, u.ID, u.Leases, u.LastUsed.UnixMilli())
		}
		if err := s.run(ctx, usageScript, pool, args...); err != nil {
			return fmt.Errorf("record usage of %d keys in pool %q: %w", len(chunk), pool, err)
		}
	}
	return nil
}
