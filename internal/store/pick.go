package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Picked is a key chosen for a lease.
type Picked struct {
	KeyID  string
	Secret string
}

// Pick chooses a random active key of a pool, waking due cooling down keys
// first, and counts the lease. With no active key it returns a *NoKeyError.
//
// The common case is one short script (pickfast.lua: SRANDMEMBER on the
// selectable set, the lease counted, the secret read); only when it finds
// no selectable key does the full pick script run, to wake due keys and
// say why there is none. Due keys of a pool that still has active keys
// return with the broker's wake loop instead of on the next pick.
func (s *Store) Pick(ctx context.Context, pool string) (Picked, error) {
	k := s.pickKeys(pool)
	now := s.now().UnixMilli()
	res, err := pickFastScript.Run(ctx, s.rdb, k.keys, k.prefix, now).Text()
	switch {
	case err == nil:
		s.keepPickKeys(pool, k)
		return s.picked(pool, res)
	case !errors.Is(err, redis.Nil):
		return Picked{}, fmt.Errorf("pick from pool %q: %w", pool, err)
	}
	return s.pickSlow(ctx, pool)
}

// picked reads pickfast's "id secret".
func (s *Store) picked(pool, res string) (Picked, error) {
	id, stored, ok := strings.Cut(res, " ")
	if !ok {
		return Picked{}, fmt.Errorf("pick from pool %q: malformed reply", pool)
	}
	plain, err := s.openSecret(pool, id, stored)
	if err != nil {
		return Picked{}, fmt.Errorf("pick from pool %q: %w", pool, err)
	}
	return Picked{KeyID: id, Secret: plain}, nil
}

// pickKeys holds the arguments of pickfast for one pool, built once: the
// key names and the boxed prefix would otherwise cost four allocations
// on every call.
type pickKeys struct {
	keys   []string // the selectable set; never modified
	prefix any      // the pool's key prefix, as a script argument
}

// maxPickKeys bounds the cache of pickKeys: pools are few, and only a
// pool that leased a key enters it, so names callers make up do not.
const maxPickKeys = 4096

func (s *Store) pickKeys(pool string) *pickKeys {
	if k, ok := s.picks.Load(pool); ok {
		return k.(*pickKeys)
	}
	p := prefix(pool)
	return &pickKeys{keys: []string{p + "active"}, prefix: p}
}

// keepPickKeys caches k for a pool that has just leased a key.
func (s *Store) keepPickKeys(pool string, k *pickKeys) {
	if s.pickCount.Load() >= maxPickKeys {
		return
	}
	if _, loaded := s.picks.LoadOrStore(pool, k); !loaded {
		s.pickCount.Add(1)
	}
}

// pickSlow runs the full pick script: wake due keys, then pick or explain.
func (s *Store) pickSlow(ctx context.Context, pool string) (Picked, error) {
	res, err := s.eval(ctx, pickScript, pool).Slice()
	if err != nil {
		return Picked{}, fmt.Errorf("pick from pool %q: %w", pool, err)
	}
	r := reply(res)
	if r.int(0) == 0 {
		e := &NoKeyError{Pool: pool, Total: r.int(1), CoolingDown: r.int(2), NextWake: millis(r.int(3))}
		return Picked{}, r.err(e)
	}
	if err := r.err(nil); err != nil {
		return Picked{}, fmt.Errorf("pick from pool %q: %w", pool, err)
	}
	id := r.str(1)
	plain, err := s.openSecret(pool, id, r.str(2))
	if err != nil {
		return Picked{}, fmt.Errorf("pick from pool %q: %w", pool, err)
	}
	return Picked{KeyID: id, Secret: plain}, nil
}
