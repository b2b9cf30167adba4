// Package testkit holds the small helpers that tests of several packages
// share: a settable clock, a buffer that goroutines may log to at once, and
// bounded polling, so that tests wait for a condition instead of sleeping
// for a guessed time.
package testkit

import (
	"bytes"
	"sync"
	"testing"
	"time"
)

// Clock is a settable time source shared by a test and the code under
// test, so expiries and schedules move when the test says, not when the
// wall clock does. It is safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a Clock standing at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time; pass it where code takes a func() time.Time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Buffer collects output (logs, a child process's stdout) written from
// many goroutines, for a test to read at any time.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Eventually polls cond every interval until it holds, and fails the test
// naming what it waited for if it does not within limit. Tests assert on
// conditions, never on how long something took; limit only keeps a broken
// test from hanging.
func Eventually(t testing.TB, limit, interval time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting until %s", limit, what)
		}
		time.Sleep(interval)
	}
}

// EventuallyWhy is Eventually for a condition that can say why it does not
// hold yet: the last explanation goes into the failure, so a timed-out wait
// shows what it saw rather than only what it wanted.
func EventuallyWhy(t testing.TB, limit, interval time.Duration, what string, cond func() (ok bool, why string)) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting until %s: %s", limit, what, why)
		}
		time.Sleep(interval)
	}
}
