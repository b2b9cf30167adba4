package store

import (
	"context"
	"fmt"
	"time"
)

// usageScript writes usage counted in memory.
var usageScript = script("usage")

// Usage is what a broker counted in memory about one key since its last
// flush: how many leases, and when the latest.
type Usage struct {
	ID       string
	Leases   int64
	LastUsed time.Time
}

// RecordUsage adds leases counted in memory to the keys' lease counts and
// moves their last-used times forward, in atomic batches. Keys that left
// the pool meanwhile are skipped: their counts go with them. It returns
// how many records landed, so that on error the caller keeps only the
// rest (the batches before the failure are written).
func (s *Store) RecordUsage(ctx context.Context, pool string, usage []Usage) (int, error) {
	for start := 0; start < len(usage); start += s.batch {
		chunk := usage[start:min(start+s.batch, len(usage))]
		args := make([]any, 0, 3*len(chunk))
		for _, u := range chunk {
			args = append(args, u.ID, u.Leases, u.LastUsed.UnixMilli())
		}
		if err := s.run(ctx, usageScript, pool, args...); err != nil {
			return start, fmt.Errorf("record usage of %d keys in pool %q: %w", len(chunk), pool, err)
		}
	}
	return len(usage), nil
}
