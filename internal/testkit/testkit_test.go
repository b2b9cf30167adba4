package testkit

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// fatalTB records the failure of a wait and stops its goroutine, as
// testing.T.Fatalf does.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func failure(wait func(tb testing.TB)) string {
	tb := &fatalTB{}
	done := make(chan struct{})
	go func() { defer close(done); wait(tb) }()
	<-done
	return tb.msg
}

func TestEventuallyWhyNamesWhatItSawOnTimeout(t *testing.T) {
	msg := failure(func(tb testing.TB) {
		EventuallyWhy(tb, time.Millisecond, time.Millisecond, "the pool loads", func() (bool, string) { return false, "3 keys missing" })
	})
	if !strings.Contains(msg, "the pool loads") || !strings.Contains(msg, "3 keys missing") {
		t.Fatalf("failure %q does not say what was awaited and why it did not hold", msg)
	}
}

func TestEventuallyReturnsOnceTheConditionHolds(t *testing.T) {
	n := 0
	msg := failure(func(tb testing.TB) {
		Eventually(tb, time.Minute, time.Millisecond, "three polls", func() bool { n++; return n == 3 })
	})
	if msg != "" || n != 3 {
		t.Fatalf("Eventually failed (%q) or polled %d times, want 3", msg, n)
	}
}
