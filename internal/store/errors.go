package store

import (
	"errors"
	"fmt"
	"time"
)

// ErrKeyUnknown is returned for a key id that is not in the pool.
var ErrKeyUnknown = errors.New("key is not in the pool")

// NoKeyError says why Pick found nothing to lease, with what a caller needs
// to decide whether waiting helps.
type NoKeyError struct {
	Pool string
	// Total is how many keys the pool holds; 0 means the pool is empty.
	Total int64
	// CoolingDown is how many keys are cooling down and will return alone.
	CoolingDown int64
	// NextWake is when the first cooling down or timed disabled key
	// returns; zero when none will return on its own.
	NextWake time.Time
}

// Error describes the condition without naming any key.
func (e *NoKeyError) Error() string {
	if e.Total == 0 {
		return fmt.Sprintf("pool %q is empty", e.Pool)
	}
	return fmt.Sprintf("pool %q has no active key (%d keys, %d cooling down)", e.Pool, e.Total, e.CoolingDown)
}
