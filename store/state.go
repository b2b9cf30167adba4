package store

import (
	"fmt"
	"time"

	"github.com/keybroker/keybroker/failure"
)

// State is where a key is in its lifecycle (DESIGN.md, "Key lifecycle").
type State string

// The states a stored key can be in. Removed keys are deleted.
const (
	Active      State = "active"
	CoolingDown State = "cooling_down"
	Suspect     State = "suspect"
	Disabled    State = "disabled"
)

// States lists every state, in lifecycle order.
func States() []State {
	return []State{Active, CoolingDown, Suspect, Disabled}
}

// Valid reports whether st is a known state.
func (st State) Valid() bool {
	switch st {
	case Active, CoolingDown, Suspect, Disabled:
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
}

// Counts is how many keys a pool holds in each state.
type Counts struct {
	Total, Active, CoolingDown, Suspect, Disabled int64
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
