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
	// Recheck is when a key the report disables is checked next (the
	// pool's disabled interval); 0 leaves its schedule alone.
	Recheck time.Duration
	// Park bounds how long the report parks a key (suspect or disabled) in
	// a pool no validator checks, so reports cannot take keys out for
	// good; 0 for no bound (a validator decides).
	Park time.Duration
	// MinActive is the fewest active keys reports leave: a report that
	// would park one of the last MinActive keys leaves it active
	// (Transition.Floor); 0 for no floor.
	MinActive int
}

// Transition is what a failure or a check did to a key. To is Removed
// when the key was deleted.
type Transition struct {
	From, To State
	Reason   string
	Until    time.Time
	// Brake is what the pool's removal brake did with a check: "" nothing,
	// "held" (kept a confirmed-invalid key suspect), "hold_started" (and
	// began holding), "hold_lifted" (the last held key left the hold).
	Brake string
	// Floor is true when a report left the key active because the pool is
	// down to its MinActive keys.
	Floor bool
}

// What Transition.Brake says.
const (
	BrakeHeld        = "held"
	BrakeHoldStarted = "hold_started"
	BrakeHoldLifted  = "hold_lifted"
)

// Report applies a failure to a key in one atomic step:
// RateLimited cools an active key down (a cooling key keeps the later end),
// QuotaExhausted and PermissionDenied disable an active or cooling key,
// InvalidKey makes a key suspect, and Transient or Unclassified only
// count. Reports only park keys further: suspect and quarantined keys stay
// until the worker, an admin or Park decides, and a key already parked
// keeps its schedule. The last MinActive active keys are never parked by
// a report. An unknown key is ErrKeyUnknown.
func (s *Store) Report(ctx context.Context, pool, id string, f Failure) (Transition, error) {
	var until int64
	if !f.Until.IsZero() {
		until = f.Until.UnixMilli()
	}
	res, err := s.eval(ctx, reportScript, pool, id, f.Kind.String(), f.Reason, until, s.actorAs("report"), f.ID,
		f.Recheck.Milliseconds(), f.Park.Milliseconds(), f.MinActive).Slice()
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
	tr := Transition{From: from, To: to, Reason: r.str(3), Until: millis(r.int(4))}
	switch note := r.str(5); note {
	case "min_active":
		tr.Floor = true
	default:
		tr.Brake = note
	}
	return tr, nil
}
