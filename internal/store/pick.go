package store

import (
	"context"
	"fmt"
)

// Picked is a key chosen for a lease.
type Picked struct {
	KeyID  string
	Secret string
}

// Pick chooses a random active key of a pool, waking due cooling down keys
// first, and counts the lease. With no active key it returns a *NoKeyError.
func (s *Store) Pick(ctx context.Context, pool string) (Picked, error) {
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
