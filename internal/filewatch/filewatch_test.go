package filewatch

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keybroker/keybroker/internal/testkit"
)

// fakeSource has a version on "disk" the test sets, and fails to load the
// versions it is told are broken.
type fakeSource struct {
	mu     sync.Mutex
	disk   string
	loaded string
	broken map[string]bool
	loads  int
}

func (f *fakeSource) Name() string { return "fake" }
func (f *fakeSource) Stamp() (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.disk, nil
}
func (f *fakeSource) Loaded() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.loaded
}
func (f *fakeSource) Load(stamp string, _ bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.loads++
	if f.broken[stamp] {
		return errors.New("version " + stamp + " is broken")
	}
	f.loaded = stamp
	return nil
}
func (f *fakeSource) set(disk string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.disk = disk
}

// A file caught mid-write (an editor truncated it: empty, which may be
// valid) must not be loaded by the timer: a change is loaded only once it
// has held still for one check.
func TestChangesAreTakenOnceSettled(t *testing.T) {
	src := &fakeSource{disk: "v1", loaded: "v1"}
	w := watcher{src: src, log: slog.New(slog.DiscardHandler)}
	if w.settled() {
		t.Fatal("an unchanged file counts as a change")
	}
	src.set("truncated")
	if w.settled() {
		t.Fatal("a change was taken at first sight, before it settled")
	}
	src.set("v2")
	if w.settled() {
		t.Fatal("a second, different version was taken without settling")
	}
	if !w.settled() {
		t.Fatal("a file that held still for a check was not taken")
	}
}

// A broken version is logged once however often it is retried, the
// version in force stays, and a fixed version is taken; SIGHUP reloads at
// once even when the files look unchanged.
func TestWatchLogsABrokenVersionOnceAndSIGHUPForces(t *testing.T) {
	src := &fakeSource{disk: "v1", loaded: "v1", broken: map[string]bool{"bad": true}}
	logs := &testkit.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hup := make(chan os.Signal, 1)
	done := make(chan struct{})
	go func() { Watch(ctx, src, time.Millisecond, hup, slog.New(slog.NewTextHandler(logs, nil))); close(done) }()

	src.set("bad")
	testkit.Eventually(t, 10*time.Second, time.Millisecond, "the broken version to be retried", func() bool {
		src.mu.Lock()
		defer src.mu.Unlock()
		return src.loads >= 5
	})
	if n := strings.Count(logs.String(), "fake reload failed"); n != 1 {
		t.Fatalf("a broken version was logged %d times, want once:\n%s", n, logs)
	}
	if src.Loaded() != "v1" {
		t.Fatalf("a broken version replaced the one in force: %s", src.Loaded())
	}
	src.set("v2")
	testkit.Eventually(t, 10*time.Second, time.Millisecond, "the fixed version to load", func() bool { return src.Loaded() == "v2" })

	src.mu.Lock()
	before := src.loads
	src.mu.Unlock()
	hup <- os.Interrupt
	testkit.Eventually(t, 10*time.Second, time.Millisecond, "SIGHUP to reload an unchanged file", func() bool {
		src.mu.Lock()
		defer src.mu.Unlock()
		return src.loads > before
	})
	cancel()
	<-done
}
