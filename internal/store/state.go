package store

import (
	"fmt"
	"time"

	"github.com/keybroker/keybroker/failure"
)

// State is where a key is in its lifecycle (docs/design.md, "Key lifecycle").
type State string

// The states a stored key can be in. Removed keys are deleted.
const (
	Active      State = "active"
	CoolingDown State = "cooling_down"
	Suspect     State = "suspect"
	Disabled    State = "disabled"
	// Quarantined keys were confirmed invalid (or out of credit where the
	// pool removes such keys). They are never leased but kept, sealed, and
	// re-checked: a key that checks valid again, or that an admin
	// restores, comes back; one nobody restores is purged after the pool's
	// quarantine retention.
	Quarantined State = "quarantined"
)

// Removed is where a deleted key went. No stored key is ever in it: it
// appears only as the end of a Transition and in the audit trail, which
// outlives the key.
const Removed State = "removed"

// States lists every state, in lifecycle order.
func States() []State {
	return []State{Active, CoolingDown, Suspect, Disabled, Quarantined}
}

// Valid reports whether st is a known state.
func (st State) Valid() bool {
	switch st {
	case Active, CoolingDown, Suspect, Disabled, Quarantined:
		return true
	}
	return false
}

// Key is a stored key with its bookkeeping, as GetAll shows it.
type Key struct {
	ID            string
	Secret        string
	State         State
	Reason        string
	Until         time.Time // zero when the state has no end
	Added         time.Time
	LastUsed      time.Time // zero when never leased
	LastValidated time.Time // zero when never checked
	Leases        int64
	Failures      int64
	LastFailure   failure.Kind
	Balance       *Balance // nil until a billing check read one
}

// Balance is what a billing check last read for a key, so operators see
// how much credit is left without asking the provider themselves.
type Balance struct {
	LimitUSD float64   // the subscription's hard limit
	UsedUSD  float64   // usage over the billing window; 0 when not read
	Expires  time.Time // when access ends; zero for never
}

// Counts is how many keys a pool holds in each state.
type Counts struct {
	Total, Active, CoolingDown, Suspect, Disabled, Quarantined int64
}

// millis turns a stored unix-millisecond value into a time; 0 is no time.
func millis(ms int64) time.Time {
	if ms <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

func parseState(s string) (State, error) {
	st := State(s)
	if !st.Valid() {
		return "", fmt.Errorf("unknown stored state %q", s)
	}
	return st, nil
}

// parseChange reads either end of a recorded change: a stored state,
// Removed, or "" for a key that was not in the pool before.
func parseChange(s string) (State, error) {
	if s == "" || State(s) == Removed {
		return State(s), nil
	}
	return parseState(s)
}
