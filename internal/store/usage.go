package store

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
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

// UsageBatch is one write of usage counts, numbered so that it is applied
// at most once: a write whose reply an outage lost may have landed, and
// retrying it as a plain increment would count its leases twice.
type UsageBatch struct {
	// Flusher names the writer (one broker process); Seq numbers its
	// batches, increasing. A batch is applied only if its Seq is above the
	// last one applied for its Flusher in that pool, so a writer must
	// retry a failed batch before it sends any later one. An empty
	// Flusher applies the batch unconditionally.
	Flusher string
	Seq     int64
	Usage   []Usage
}

// RecordUsage adds leases counted in memory to the keys' lease counts and
// moves their last-used times forward, in atomic batches that are not
// deduplicated (see RecordUsageBatch). Keys that left the pool meanwhile
// are skipped: their counts go with them. It returns how many records
// landed, so that on error the caller keeps only the rest (the batches
// before the failure are written).
func (s *Store) RecordUsage(ctx context.Context, pool string, usage []Usage) (int, error) {
	for start := 0; start < len(usage); start += s.batch {
		chunk := usage[start:min(start+s.batch, len(usage))]
		if _, err := s.RecordUsageBatch(ctx, pool, UsageBatch{Usage: chunk}); err != nil {
			return start, err
		}
	}
	return len(usage), nil
}

// RecordUsageBatch writes one batch atomically, once per Flusher and Seq,
// and reports whether it was applied now (false: applied before). Keep
// batches to a few thousand records.
func (s *Store) RecordUsageBatch(ctx context.Context, pool string, b UsageBatch) (bool, error) {
	args := make([]any, 0, 2+3*len(b.Usage))
	args = append(args, b.Flusher, b.Seq)
	for _, u := range b.Usage {
		args = append(args, u.ID, u.Leases, u.LastUsed.UnixMilli())
	}
	n, err := s.eval(ctx, usageScript, pool, args...).Int64()
	if err != nil {
		return false, fmt.Errorf("record usage of %d keys in pool %q: %w", len(b.Usage), pool, err)
	}
	return n >= 0, nil
}

// NewFlusherName names one writer's usage batches (UsageBatch.Flusher):
// random, so that two broker processes, or one restarted, never share a
// sequence.
func NewFlusherName() string {
	var b [8]byte
	_, _ = crand.Read(b[:])
	return hex.EncodeToString(b[:])
}
