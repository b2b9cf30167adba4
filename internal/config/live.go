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

	mu    sync.Mutex // serialises reloads
	stamp string
}

// NewLive loads path (or uses Default when path is empty) and returns a
// Live configuration; a bad file is an error here, at start.
func NewLive(path string) (*Live, error) {
	l := &Live{path: path}
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
// whether the configuration was replaced.
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

// Load implements filewatch.Source: it parses the file and puts it in force.
func (l *Live) Load(stamp string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	c, err := Load(l.path)
	if err != nil {
		return err
	}
	l.cur.Store(c)
	l.stamp = stamp
	return nil
}

// Watch reloads the file when it changes (once it has settled) and
// whenever hup delivers (SIGHUP), until ctx ends; see filewatch.Watch.
func (l *Live) Watch(ctx context.Context, interval time.Duration, hup <-chan os.Signal, log *slog.Logger) {
	if l.path == "" {
		return
	}
	filewatch.Watch(ctx, l, interval, hup, log.With("path", l.path))
}
