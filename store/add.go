package store

import (
	"context"
	"fmt"
)

// AddResult says what Add did, per secret in input order.
type AddResult struct {
	KeyIDs []string
	Added  []bool // false: already in the pool (or earlier in the input)
}

// AddedCount is how many secrets were new to the pool.
func (r AddResult) AddedCount() int {
	n := 0
	for _, a := range r.Added {
		if a {
			n++
		}
	}
	return n
}

// Add puts normalised secrets into a pool as active keys. It is idempotent:
// a secret already present is left exactly as it is, whatever its state.
// Large inputs are written in batches, each one atomic; on error the
// batches before it have landed and a retry completes the rest.
func (s *Store) Add(ctx context.Context, pool string, secrets []string) (AddResult, error) {
	res := AddResult{KeyIDs: make([]string, 0, len(secrets)), Added: make([]bool, 0, len(secrets))}
	if len(secrets) == 0 {
		return res, nil
	}
	if err := s.rdb.SAdd(ctx, poolsKey, pool).Err(); err != nil {
		return res, fmt.Errorf("register pool %q: %w", pool, err)
	}
	for start := 0; start < len(secrets); start += s.batch {
		chunk := secrets[start:min(start+s.batch, len(secrets))]
		args := make([]any, 0, 2*len(chunk))
		for _, sec := range chunk {
			id := s.ids.Of(sec)
			stored, err := s.sealSecret(pool, id, sec)
			if err != nil {
				return res, fmt.Errorf("add to pool %q: %w", pool, err)
			}
			res.KeyIDs = append(res.KeyIDs, id)
			args = append(args, id, stored)
		}
		flags, err := s.eval(ctx, addScript, pool, append(args, actorOf(ctx, "admin"))...).Int64Slice()
		if err != nil {
			return res, fmt.Errorf("add %d keys to pool %q: %w", len(chunk), pool, err)
		}
		if len(flags) != len(chunk) {
			return res, fmt.Errorf("add to pool %q: script answered %d results for %d keys", pool, len(flags), len(chunk))
		}
		for _, f := range flags {
			res.Added = append(res.Added, f == 1)
		}
	}
	return res, nil
}
