package config

import (
	"context"
	"errors"
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

	mu         sync.Mutex // serialises reloads
	stamp      string
	allowEmpty bool
}

// ErrEmptyPolicy is returned by a reload that would replace a policy
// declaring pools with one declaring none: an emptied or truncated file
// (`: > pools.yaml`) would otherwise reset every pool's cooldowns,
// validators, rules and provider to the built-ins without anyone asking.
// SIGHUP (an operator's explicit reload) or AllowEmpty accepts it.
var ErrEmptyPolicy = errors.New("the new policy declares no pools but the one in force does; keeping the one in force (send SIGHUP or set --config-allow-empty to apply it)")

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
	if old := l.cur.Load(); old != nil && len(old.PoolNames()) > 0 && len(c.PoolNames()) == 0 && !force && !l.allowEmpty {
		return false, fmt.Errorf("config %s: %w", l.path, ErrEmptyPolicy)
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
// at once, and is the operator's word that a policy declaring no pools is
// meant (see ErrEmptyPolicy).
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
		case errors.Is(err, ErrEmptyPolicy):
			if err.Error() != lastErr {
				log.Warn("config reload refused: the file declares no pools, the policy in force does; keeping it", "path", l.path,
					"pools_configured", len(l.Current().PoolNames()), "hint", "send SIGHUP or set --config-allow-empty to apply an empty policy")
			}
			lastErr = err.Error()
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
