// Package store keeps pools of provider keys in Redis. Every pool lives
// under one hash tag (kb:{pool}:…) so that each state change is one atomic
// Lua script, valid on a single node, Sentinel or Cluster alike, and every
// change is published on the pool's channel for other replicas to follow.
package store

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keybroker/keybroker/internal/seal"
	"github.com/keybroker/keybroker/internal/secret"
)

// Store is a Redis-backed set of key pools. It is safe for concurrent use;
// any number of Stores (one per broker replica) may share one Redis.
type Store struct {
	rdb   redis.UniversalClient
	ids   *secret.IDs
	now   func() time.Time
	batch int
	ring  *seal.Keyring // nil: secrets stored as they are
	actor string        // who makes the changes, for the audit trail (see As)

	picks     *sync.Map     // pool → *pickKeys (see Pick)
	pickCount *atomic.Int64 // entries in picks

	legacyPlaintext bool // with ring: read unsealed values (migration only)
}

// Option configures a Store.
type Option func(*Store)

// WithClock replaces time.Now, so tests can move time (cooldowns) without
// sleeping. Replicas sharing a Redis should share a clock source (NTP).
func WithClock(now func() time.Time) Option {
	return func(s *Store) { s.now = now }
}

// WithBatchSize sets how many keys one Add or Remove script handles, which
// bounds how long a script holds Redis. The default is 500.
func WithBatchSize(n int) Option {
	return func(s *Store) {
		if n > 0 {
			s.batch = n
		}
	}
}

// AuditLength is about how many entries each pool's audit trail keeps
// (lib.lua's AUDIT_MAX; Redis trims whole stream nodes, so a few more):
// enough for every key of a large pool to show its recent changes. The
// oldest entries go first.
const AuditLength = 10_000

// New returns a Store over rdb that derives key ids with ids.
func New(rdb redis.UniversalClient, ids *secret.IDs, opts ...Option) *Store {
	s := &Store{rdb: rdb, ids: ids, now: time.Now, batch: 500, picks: &sync.Map{}, pickCount: &atomic.Int64{}}
	for _, o := range opts {
		o(s)
	}
	return s
}

// KeyID returns the key id of a normalised secret.
func (s *Store) KeyID(secretValue string) string {
	return s.ids.Of(secretValue)
}

// Ping checks that Redis answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("ping redis: %w", err)
	}
	return nil
}

// Pools returns the names of every pool that has ever held a key, sorted.
func (s *Store) Pools(ctx context.Context) ([]string, error) {
	names, err := s.rdb.SMembers(ctx, poolsKey).Result()
	if err != nil {
		return nil, fmt.Errorf("list pools: %w", err)
	}
	slices.Sort(names)
	return names, nil
}

// Wake returns due cooling down (and timed disabled) keys of a pool to
// active. GetRandom and GetAll do this themselves; calling it on a timer
// keeps notifications timely for pools nobody is reading.
func (s *Store) Wake(ctx context.Context, pool string) error {
	if err := s.run(ctx, wakeScript, pool); err != nil {
		return fmt.Errorf("wake pool %q: %w", pool, err)
	}
	return nil
}

// run executes a script against a pool and discards its result.
func (s *Store) run(ctx context.Context, sc *redis.Script, pool string, args ...any) error {
	return s.eval(ctx, sc, pool, args...).Err()
}

// eval executes a script against a pool: KEYS[1] routes it to the pool's
// slot, ARGV[1] and ARGV[2] carry the key prefix and the time (see lib.lua).
func (s *Store) eval(ctx context.Context, sc *redis.Script, pool string, args ...any) *redis.Cmd {
	p := prefix(pool)
	argv := append([]any{p, s.now().UnixMilli()}, args...)
	return sc.Run(ctx, s.rdb, []string{p + "all"}, argv...)
}
