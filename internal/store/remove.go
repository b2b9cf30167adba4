package store

import (
	"context"
	"fmt"
)

// RemoveResult says which keys Remove deleted and which were not there.
type RemoveResult struct {
	Removed  []string
	NotFound []string
}

// Remove deletes keys of a pool by key id, with every index entry for them.
// Ids not in the pool are reported in NotFound; that is not an error.
func (s *Store) Remove(ctx context.Context, pool string, ids []string) (RemoveResult, error) {
	var res RemoveResult
	for start := 0; start < len(ids); start += s.batch {
		chunk := ids[start:min(start+s.batch, len(ids))]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		flags, err := s.eval(ctx, removeScript, pool, append(args, s.actorAs("admin"))...).Int64Slice()
		if err != nil {
			return res, fmt.Errorf("remove %d keys from pool %q: %w", len(chunk), pool, err)
		}
		if len(flags) != len(chunk) {
			return res, fmt.Errorf("remove from pool %q: script answered %d results for %d keys", pool, len(flags), len(chunk))
		}
		for i, f := range flags {
			if f == 1 {
				res.Removed = append(res.Removed, chunk[i])
			} else {
				res.NotFound = append(res.NotFound, chunk[i])
			}
		}
	}
	return res, nil
}
