// Package filewatch reloads files that configure a running broker (the
// pool policy, TLS certificates, the auth file) when they change, with
// one behaviour for all of them: a change is taken once it has settled, a
// broken version is logged once and the previous one kept, and SIGHUP
// reloads at once.
package filewatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"
)

// Source is a set of files loaded as one unit.
type Source interface {
	// Name says what the files are, for logs ("config", "TLS files").
	Name() string
	// Stamp identifies the version of the files on disk now.
	Stamp() (string, error)
	// Loaded is the stamp of the version in force.
	Loaded() string
	// Load reads the files and, if they are valid, puts them in force as
	// version stamp. On error the version in force stays. forced says an
	// operator asked for this reload (SIGHUP), so a version the source
	// would otherwise refuse (ErrRefused) may be taken.
	Load(stamp string, forced bool) error
}

// ErrRefused marks a version a Source declines on purpose: not broken, but
// not to be taken without an operator's word (SIGHUP). Watch logs it at
// WARN rather than ERROR.
var ErrRefused = errors.New("refused")

// Stamp identifies files' versions by size and modification time
// (following symlinks, as Kubernetes swaps them); empty names are skipped.
func Stamp(names ...string) (string, error) {
	var b strings.Builder
	for _, name := range names {
		if name == "" {
			continue
		}
		fi, err := os.Stat(name)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "%s:%d:%d;", name, fi.Size(), fi.ModTime().UnixNano())
	}
	return b.String(), nil
}

// Reload loads src if its files differ from the version in force (or
// always, when force is set) and reports whether it did.
func Reload(src Source, force bool) (bool, error) {
	stamp, err := src.Stamp()
	if err != nil {
		return false, err
	}
	if stamp == src.Loaded() && !force {
		return false, nil
	}
	if err := src.Load(stamp, force); err != nil {
		return false, err
	}
	return true, nil
}

// Watch checks src every interval and reloads it when its files changed
// and then stayed the same for one more interval, so a reload never
// catches an editor's half-written (or truncated, hence empty and maybe
// valid) file. A value on hup (SIGHUP) reloads at once. A failing reload
// is logged once per distinct error, and the version in force kept. Watch
// returns when ctx ends.
func Watch(ctx context.Context, src Source, interval time.Duration, hup <-chan os.Signal, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	w := watcher{src: src, log: log}
	for {
		forced := false
		select {
		case <-ctx.Done():
			return
		case <-hup:
			forced = true
		case <-t.C:
			if !w.settled() {
				continue
			}
		}
		w.reload(forced)
	}
}

// watcher is the state of one Watch: the stamp seen on the previous tick
// and the last error logged.
type watcher struct {
	src     Source
	log     *slog.Logger
	pending string
	lastErr string
}

func (w *watcher) reload(forced bool) {
	changed, err := Reload(w.src, forced)
	switch {
	case errors.Is(err, ErrRefused):
		if err.Error() != w.lastErr {
			w.log.Warn(w.src.Name()+" reload refused; keeping the version in force", "err", err)
		}
		w.lastErr = err.Error()
	case err != nil:
		if err.Error() != w.lastErr {
			w.log.Error(w.src.Name()+" reload failed; keeping the version in force", "err", err)
		}
		w.lastErr = err.Error()
	case changed:
		w.lastErr = ""
		w.log.Info(w.src.Name() + " reloaded")
	}
}

// settled reports whether the files differ from what is loaded and have
// not changed since the previous check. A file that cannot be read is
// passed on at once, so the reload reports it.
func (w *watcher) settled() bool {
	stamp, err := w.src.Stamp()
	if err != nil {
		w.pending = ""
		return true
	}
	if stamp == w.src.Loaded() {
		w.pending = ""
		return false
	}
	if stamp != w.pending {
		w.pending = stamp
		return false
	}
	w.pending = ""
	return true
}
