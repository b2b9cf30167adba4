package broker

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/keybroker/keybroker/internal/keysfile"
	"github.com/keybroker/keybroker/internal/store"
)

// seedKeys adds the keys of a keys file at start: keys already present
// are left as they are, so every restart may seed again.
func seedKeys(ctx context.Context, st *store.Store, path, defaultPool string, log *slog.Logger) error {
	if path == "" {
		return nil
	}
	file, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("keys file: %w", err)
	}
	defer file.Close()
	batches, err := keysfile.Parse(file, defaultPool)
	if err != nil {
		return fmt.Errorf("keys file %s: %w", path, err)
	}
	for _, b := range batches {
		res, err := st.Add(ctx, b.Pool, b.Secrets)
		if err != nil {
			return fmt.Errorf("seed pool %q from %s: %w", b.Pool, path, err)
		}
		log.Info("seeded keys", "pool", b.Pool, "added", res.AddedCount(), "present", len(b.Secrets)-res.AddedCount())
	}
	return nil
}

// wakeLoop returns cooled-down keys to active in every pool on a timer, so
// states and change notifications are timely even for pools nobody reads.
func wakeLoop(ctx context.Context, st *store.Store, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pools, err := st.Pools(ctx)
		if err != nil {
			log.Debug("wake: list pools", "err", err)
			continue
		}
		for _, p := range pools {
			if err := st.Wake(ctx, p); err != nil {
				log.Debug("wake pool", "pool", p, "err", err)
			}
		}
	}
}

// flushLoop writes the lease counts the per-call Redis picker added up,
// every interval until ctx ends (shutdown writes the last ones).
func flushLoop(ctx context.Context, p *store.Picker, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := p.Flush(ctx); err != nil && ctx.Err() == nil {
				log.Warn("cannot write lease counts; keeping them for the next flush", "err", err)
			}
		}
	}
}
