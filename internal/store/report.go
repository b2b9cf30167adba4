package store

import (
	"context"
	"fmt"
	"time"

	"github.com/keybroker/keybroker/failure"
)

// Failure is a classified failure to apply to a key.
type Failure struct {
	Kind   failure.Kind
	Reason string
	// Until is when the key returns to active: the cooldown end for
	// RateLimited, a known reset for QuotaExhausted; zero for none.
	Until time.Time
	// ID identifies the report, so that applying it again (a retry after
	// a lost reply, a replay after an outage) changes nothing; "" opts out.
	ID string
}

// Transition is what a failure or a check did to a key. To is Removed
// when the check removed the key.
type Transition struct {
	From, To State
	Reason   string
	Until    time.Time
}

// Report applies a failure to a key in one atomic step:
// RateLimited cools an active key down (a cooling key keeps the later end),
// QuotaExhausted and PermissionDenied disable it, InvalidKey makes it
// suspect, and Transient or Unclassified only count. Suspect keys stay
// suspect until the worker or an admin decides. An unknown key is
// ErrKeyUnknown.
func (s *Store) Report(ctx context.Context, pool, id string, f Failure) (Transition, error) {
	var until int64
	if !f.Until.IsZero() {
		until = f.Until.UnixMilli()
	}
	res, err := s.eval(ctx, reportScript, pool, id, f.Kind.String(), f.Reason, until, s.actorAs("report"), f.ID).Slice()
	if err != nil {
		return Transition{}, fmt.Errorf("report %s failure of key %s in pool %q: %w", f.Kind, id, pool, err)
	}
	r := reply(res)
	if err := r.err(nil); err != nil {
		return Transition{}, fmt.Errorf("report to pool %q: %w", pool, err)
	}
	tr, err := parseTransition(r)
	if err != nil {
		return Transition{}, fmt.Errorf("report to pool %q, key %s: %w", pool, id, err)
	}
	return tr, nil
}

// parseTransition reads a script's {found, old, new, reason, until} reply;
// a key that was not found is ErrKeyUnknown.
func parseTransition(r reply) (Transition, error) {
	if r.int(0) == 0 {
		return Transition{}, ErrKeyUnknown
	}
	from, err := parseState(r.str(1))
	if err != nil {
		return Transition{}, err
	}
	to, err := parseChange(r.str(2))
	if err != nil {
		return Transition{}, err
	}
	return Transition{From: from, To: to, Reason: r.str(3), Until: millis(r.int(4))}, nil
}
