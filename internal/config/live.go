package config

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keybroker/keybroker/internal/filewatch"
)

// Live is a configuration that can be replaced while the broker runs. Calls
// in flight keep the policy they read; later calls see the new one. A file
// that fails to load is logged and the previous configuration kept, so a
// typo never takes a broker down. It is a filewatch.Source.
type Live struct {
	path string
	cur  atomic.Pointer[Config]

	mu         sync.Mutex // serialises reloads
	stamp      string
	allowEmpty bool
}

// ErrEmptyPolicy is returned by a reload that would replace a policy
// declaring pools with one declaring none: an emptied or truncated file
// (`: > pools.yaml`) would otherwise reset every pool's cooldowns,
// validators, rules and provider to the built-ins without anyone asking.
// SIGHUP (an operator's explicit reload) or AllowEmpty accepts it.
var ErrEmptyPolicy = fmt.Errorf("%w: the new policy declares no pools but the one in force does; keeping the one in force (send SIGHUP or set --config-allow-empty to apply it)", filewatch.ErrRefused)

// LiveOption adjusts NewLive.
type LiveOption func(*Live)

// AllowEmpty lets a reload replace a policy that declares pools with one
// that declares none, without SIGHUP.
func AllowEmpty(allow bool) LiveOption { return func(l *Live) { l.allowEmpty = allow } }

// NewLive loads path (or uses Default when path is empty) and returns a
// Live configuration; a bad file is an error here, at start.
func NewLive(path string, opts ...LiveOption) (*Live, error) {
	l := &Live{path: path}
	for _, o := range opts {
		o(l)
	}
	if path == "" {
		l.cur.Store(Default())
		return l, nil
	}
	if _, err := l.Reload(); err != nil {
		return nil, err
	}
	return l, nil
}

// Pool returns the effective policy of a pool under the current
// configuration.
func (l *Live) Pool(name string) Pool { return l.cur.Load().Pool(name) }

// Current returns the configuration now in force.
func (l *Live) Current() *Config { return l.cur.Load() }

// Reload re-reads the file if it changed since the last load and reports
// whether the configuration was replaced. It refuses (ErrEmptyPolicy) to
// replace a policy declaring pools with one declaring none unless
// AllowEmpty was given.
func (l *Live) Reload() (bool, error) {
	if l.path == "" {
		return false, nil
	}
	return filewatch.Reload(l, false)
}

// Name implements filewatch.Source.
func (l *Live) Name() string { return "config" }

// Stamp implements filewatch.Source: the file's size and modification time.
func (l *Live) Stamp() (string, error) {
	s, err := filewatch.Stamp(l.path)
	if err != nil {
		return "", fmt.Errorf("config: %w", err)
	}
	return s, nil
}

// Loaded implements filewatch.Source.
func (l *Live) Loaded() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stamp
}

// Load implements filewatch.Source: it parses the file and puts it in
// force. It refuses (ErrEmptyPolicy) to replace a policy declaring pools
// with one declaring none unless forced (SIGHUP) or AllowEmpty was given.
func (l *Live) Load(stamp string, forced bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	c, err := Load(l.path)
	if err != nil {
		return err
	}
	if old := l.cur.Load(); old != nil && len(old.PoolNames()) > 0 && len(c.PoolNames()) == 0 && !forced && !l.allowEmpty {
		return fmt.Errorf("config %s: %w", l.path, ErrEmptyPolicy)
	}
	l.cur.Store(c)
	l.stamp = stamp
	return nil
}

// Watch reloads the file when it changes (once it has settled) and
// whenever hup delivers (SIGHUP), until ctx ends; see filewatch.Watch.
// SIGHUP is the operator's word that a policy declaring no pools is meant
// (see ErrEmptyPolicy).
func (l *Live) Watch(ctx context.Context, interval time.Duration, hup <-chan os.Signal, log *slog.Logger) {
	if l.path == "" {
		return
	}
	filewatch.Watch(ctx, l, interval, hup, log.With("path", l.path))
}
