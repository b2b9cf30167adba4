package store

import (
	"context"
	"fmt"
	"slices"
)

// Recent returns the newest entries of a pool's audit trail, every key's,
// newest first: what the status page shows as recent transitions. It reads
// limit entries, whatever the trail's length.
func (s *Store) Recent(ctx context.Context, pool string, limit int) ([]AuditEntry, error) {
	if limit < 1 {
		return nil, fmt.Errorf("recent changes of pool %q: limit %d is below 1", pool, limit)
	}
	var out []AuditEntry
	for _, stream := range auditStreams(pool) { // callers' changes and decisions, merged
		msgs, err := s.rdb.XRevRangeN(ctx, stream, "+", "-", int64(limit)).Result()
		if err != nil {
			return nil, fmt.Errorf("recent changes of pool %q: %w", pool, err)
		}
		for _, m := range msgs {
			id, _ := m.Values["k"].(string)
			if e, ok := parseEntry(m, id); ok {
				out = append(out, e)
			}
		}
	}
	slices.SortFunc(out, func(a, b AuditEntry) int { return compareStreamIDs(b.ID, a.ID) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}
