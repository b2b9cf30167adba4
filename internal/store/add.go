package store

import (
	"context"
	"fmt"
	"strconv"
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
	return s.AddWeighted(ctx, pool, secrets, nil)
}

// AddWeighted is Add with a weight per secret, for pools that select by
// weight. With weights (len(weights) == len(secrets)) every key, present
// ones included, takes its weight (0 counts as 1) and keeps its state;
// with nil weights it is Add.
func (s *Store) AddWeighted(ctx context.Context, pool string, secrets []string, weights []uint32) (AddResult, error) {
	res := AddResult{KeyIDs: make([]string, 0, len(secrets)), Added: make([]bool, 0, len(secrets))}
	if len(secrets) == 0 {
		return res, nil
	}
	if weights != nil && len(weights) != len(secrets) {
		return res, fmt.Errorf("add to pool %q: %d weights for %d secrets", pool, len(weights), len(secrets))
	}
	if err := s.rdb.SAdd(ctx, poolsKey, pool).Err(); err != nil {
		return res, fmt.Errorf("register pool %q: %w", pool, err)
	}
	for start := 0; start < len(secrets); start += s.batch {
		end := min(start+s.batch, len(secrets))
		args, err := s.addArgs(pool, secrets[start:end], weightsIn(weights, start, end), &res)
		if err != nil {
			return res, fmt.Errorf("add to pool %q: %w", pool, err)
		}
		flags, err := s.eval(ctx, addScript, pool, append(args, s.actorAs("admin"))...).Int64Slice()
		if err != nil {
			return res, fmt.Errorf("add %d keys to pool %q: %w", end-start, pool, err)
		}
		if len(flags) != end-start {
			return res, fmt.Errorf("add to pool %q: script answered %d results for %d keys", pool, len(flags), end-start)
		}
		for _, f := range flags {
			res.Added = append(res.Added, f == 1)
		}
	}
	// Registered again now that the keys are in: a Retire that ran between
	// the first SADD and the script must not leave a pool with keys off
	// the list (see Retire).
	if err := s.rdb.SAdd(ctx, poolsKey, pool).Err(); err != nil {
		return res, fmt.Errorf("register pool %q: %w", pool, err)
	}
	return res, nil
}

// addArgs seals one batch and returns the script's id, secret, weight
// triples, recording the key ids in res.
func (s *Store) addArgs(pool string, chunk []string, weights []uint32, res *AddResult) ([]any, error) {
	args := make([]any, 0, 3*len(chunk))
	for i, sec := range chunk {
		id := s.ids.Of(sec)
		stored, err := s.sealSecret(pool, id, sec)
		if err != nil {
			return nil, err
		}
		res.KeyIDs = append(res.KeyIDs, id)
		w := ""
		if weights != nil {
			w = strconv.FormatUint(uint64(max(weights[i], 1)), 10)
		}
		args = append(args, id, stored, w)
	}
	return args, nil
}

// weightsIn is weights[start:end], or nil for no weights.
func weightsIn(weights []uint32, start, end int) []uint32 {
	if weights == nil {
		return nil
	}
	return weights[start:end]
}
