package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keybroker/keybroker/internal/filewatch"
)

// Live is the policy of an auth file that is reloaded while the broker
// runs, so revoking a token (or adding one) needs no restart. A new
// version replaces the old in one atomic step: each call is checked
// against one whole version, never a mix. A version that fails to load,
// fails check, or would turn authentication on or off (decided at start,
// with the listener) is refused and the one in force kept. It is a
// filewatch.Source.
type Live struct {
	path   string
	getenv func(string) string
	check  func(*Policy) error
	cur    atomic.Pointer[Policy]

	mu    sync.Mutex
	stamp string
}

// NewLive loads the policy of path (may be empty: the variables only)
// and of the shortcut variables; check, if not nil, vets every version.
func NewLive(path string, getenv func(string) string, check func(*Policy) error) (*Live, error) {
	l := &Live{path: path, getenv: getenv, check: check}
	stamp, err := l.Stamp()
	if err != nil {
		return nil, err
	}
	pol, err := l.read()
	if err != nil {
		return nil, err
	}
	l.cur.Store(pol)
	l.stamp = stamp
	return l, nil
}

// Current returns the policy in force.
func (l *Live) Current() *Policy { return l.cur.Load() }

// Name implements filewatch.Source.
func (l *Live) Name() string { return "auth file" }

// Stamp implements filewatch.Source.
func (l *Live) Stamp() (string, error) {
	s, err := filewatch.Stamp(l.path)
	if err != nil {
		return "", fmt.Errorf("auth file: %w", err)
	}
	return s, nil
}

// Loaded implements filewatch.Source.
func (l *Live) Loaded() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stamp
}

// errAuthToggle refuses a reload that would switch authentication.
var errAuthToggle = errors.New("the new version would turn authentication on or off; that takes a restart (the listener's exposure is checked at start)")

// Load implements filewatch.Source.
func (l *Live) Load(stamp string, _ bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	pol, err := l.read()
	if err != nil {
		return err
	}
	if pol.Enabled() != l.cur.Load().Enabled() {
		return errAuthToggle
	}
	l.cur.Store(pol)
	l.stamp = stamp
	return nil
}

func (l *Live) read() (*Policy, error) {
	pol, err := Load(l.path, l.getenv)
	if err != nil {
		return nil, err
	}
	if l.check != nil {
		if err := l.check(pol); err != nil {
			return nil, err
		}
	}
	return pol, nil
}

// Watch reloads the auth file when it changes (once it has settled) and
// whenever hup delivers (SIGHUP), until ctx ends; see filewatch.Watch.
// Without a file there is nothing to watch.
func (l *Live) Watch(ctx context.Context, interval time.Duration, hup <-chan os.Signal, log *slog.Logger) {
	if l.path == "" {
		return
	}
	filewatch.Watch(ctx, l, interval, hup, log.With("path", l.path))
}
