package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// ErrPoolNotEmpty is returned by Retire for a pool that still holds keys.
var ErrPoolNotEmpty = errors.New("pool still holds keys")

// ErrPoolUnknown is returned by Retire for a pool that is not registered.
var ErrPoolUnknown = errors.New("no such pool")

// Retire takes an empty pool off the pool list (kb:pools), so that
// listings, metrics and alerts forget it. The list lives outside the pool's
// hash tag, so no one script can check and retire in Redis Cluster; the
// order makes it safe instead: Retire unregisters first and then counts,
// re-registering a pool found with keys, while Add registers again after
// its keys are in. Whichever way the two interleave, a pool with keys ends
// up registered.
func (s *Store) Retire(ctx context.Context, pool string) error {
	n, err := s.rdb.SRem(ctx, poolsKey, pool).Result()
	if err != nil {
		return fmt.Errorf("retire pool %q: %w", pool, err)
	}
	if n == 0 {
		return fmt.Errorf("retire pool %q: %w", pool, ErrPoolUnknown)
	}
	total, err := s.rdb.ZCard(ctx, prefix(pool)+"all").Result()
	if err == nil && total == 0 {
		return nil
	}
	if rerr := s.rdb.SAdd(ctx, poolsKey, pool).Err(); rerr != nil {
		return fmt.Errorf("retire pool %q: put it back after %w: %w", pool, err, rerr)
	}
	if err != nil {
		return fmt.Errorf("retire pool %q: count keys: %w", pool, err)
	}
	return fmt.Errorf("retire pool %q: %d keys: %w", pool, total, ErrPoolNotEmpty)
}

// AllKeyIDs returns one page of a pool's key ids in lexical order after
// after (exclusive; "" from the start), for callers that act on every key
// without reading them.
func (s *Store) AllKeyIDs(ctx context.Context, pool, after string, limit int) ([]string, error) {
	from := "-"
	if after != "" {
		from = "(" + after
	}
	ids, err := s.rdb.ZRangeByLex(ctx, prefix(pool)+"all", &redis.ZRangeBy{Min: from, Max: "+", Count: int64(limit)}).Result()
	if err != nil {
		return nil, fmt.Errorf("key ids of pool %q: %w", pool, err)
	}
	return ids, nil
}
