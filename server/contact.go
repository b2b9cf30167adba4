package server

import (
	"sync/atomic"
	"time"
)

// StoreContact remembers when the key store last answered, so that keys
// leased from memory during an outage can be refused once the view is too
// old to trust, and so operators can see how stale it is.
type StoreContact struct {
	last atomic.Int64 // unix nanoseconds; 0: never
}

// Answered records that the store answered at t.
func (c *StoreContact) Answered(t time.Time) { c.last.Store(t.UnixNano()) }

// Since is how long ago the store last answered; a store that never
// answered is infinitely long ago.
func (c *StoreContact) Since(now time.Time) time.Duration {
	n := c.last.Load()
	if n == 0 {
		return time.Duration(1<<63 - 1)
	}
	return now.Sub(time.Unix(0, n))
}

// Fresh reports whether the store answered within max of now.
func (c *StoreContact) Fresh(now time.Time, max time.Duration) bool {
	return c.Since(now) <= max
}
