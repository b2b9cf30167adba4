package worker

import (
	"context"
	"time"
)

// WithPurgeInterval sets how often Run deletes the keys every pool has
// kept quarantined for longer than its quarantine_retention; the default
// is 1m.
func WithPurgeInterval(d time.Duration) Option {
	return func(w *Worker) {
		if d > 0 {
			w.purgeEvery = d
		}
	}
}

// purge deletes the keys of each pool quarantined for longer than the
// pool's retention, checked or not: a pool whose validator was turned off
// still lets go of its old quarantined keys. Each deletion is in the
// pool's audit trail (actor broker, reason quarantine_expired) and logged
// by key id.
func (w *Worker) purge(ctx context.Context, names []string) {
	for _, name := range names {
		retention := time.Duration(w.policies.Pool(name).QuarantineRetention)
		ids, err := w.store.Purge(ctx, name, retention)
		if err != nil {
			if ctx.Err() == nil {
				w.stats.errors.Add(1)
				w.log.WarnContext(ctx, "worker: purge quarantined keys", "pool", name, "err", err)
			}
			continue
		}
		w.stats.purged.Add(int64(len(ids)))
		for _, id := range ids {
			w.log.InfoContext(ctx, "key purged: quarantined for longer than the pool's quarantine_retention",
				"pool", name, "key_id", id, "quarantine_retention", retention.String())
		}
	}
}
