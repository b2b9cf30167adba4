package config

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Live is a configuration that can be replaced while the broker runs. Calls
// in flight keep the policy they read; later calls see the new one. A file
// that fails to load is logged and the previous configuration kept, so a
// typo never takes a broker down.
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
	return l.reload(false)
}

func (l *Live) reload(force bool) (bool, error) {
	if l.path == "" {
		return false, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	stamp, err := l.fileStamp()
	if err != nil {
		return false, err
	}
	if stamp == l.stamp && !force {
		return false, nil
	}
	c, err := Load(l.path)
	if err != nil {
		return false, err
	}
	l.cur.Store(c)
	l.stamp = stamp
	return true, nil
}

// fileStamp identifies the file's version by size and modification time.
func (l *Live) fileStamp() (string, error) {
	fi, err := os.Stat(l.path)
	if err != nil {
		return "", fmt.Errorf("config: %w", err)
	}
	return fmt.Sprintf("%d:%d", fi.Size(), fi.ModTime().UnixNano()), nil
}

// Watch reloads the file when it changes and whenever hup delivers
// (SIGHUP), until ctx ends. A change is picked up once the file has stayed
// the same for one interval, so a reload never catches an editor's
// half-written (or truncated, hence empty and valid) file; SIGHUP reloads
// at once.
func (l *Live) Watch(ctx context.Context, interval time.Duration, hup <-chan os.Signal, log *slog.Logger) {
	if l.path == "" {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	var pending, lastErr string
	for {
		forced := false
		select {
		case <-ctx.Done():
			return
		case <-hup:
			forced = true
		case <-t.C:
			if !l.settled(&pending) {
				continue
			}
		}
		changed, err := l.reload(forced)
		switch {
		case err != nil:
			if err.Error() != lastErr {
				log.Error("config reload failed; keeping the previous configuration", "path", l.path, "err", err)
			}
			lastErr = err.Error()
		case changed:
			lastErr = ""
			log.Info("config reloaded", "path", l.path, "pools_configured", len(l.Current().PoolNames()))
		}
	}
}

// settled reports whether the file differs from what is loaded and has
// not changed since the previous check (remembered in pending).
func (l *Live) settled(pending *string) bool {
	stamp, err := l.fileStamp()
	l.mu.Lock()
	loaded := l.stamp
	l.mu.Unlock()
	if err != nil || stamp == loaded {
		*pending = ""
		return err != nil // let reload report a vanished file
	}
	if stamp != *pending {
		*pending = stamp
		return false
	}
	*pending = ""
	return true
}
