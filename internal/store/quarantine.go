package store

import (
	"context"
	"fmt"
	"time"
)

// The scripts of quarantine, the removal brake and restore.
var (
	restoreScript = script("restore")
	releaseScript = script("release")
	purgeScript   = script("purge")
	holdScript    = script("hold")
)

// Brake is a pool's limit on how many keys the worker may quarantine: at
// most Count keys (or Percent of the pool, at least 1, when Percent is
// above 0) per Window. Past it the pool holds: further keys that check
// invalid stay suspect until an admin releases them or they check valid.
type Brake struct {
	Count   int
	Percent float64
	Window  time.Duration
}

// args writes the brake as apply's three arguments.
func (b Brake) args() []any {
	return []any{b.Count, b.Percent, b.Window.Milliseconds()}
}

// Hold is the state of a pool's removal brake.
type Hold struct {
	// Since is when the hold started; zero when the pool does not hold.
	Since time.Time
	// Reason is the refusal of the key that started the hold
	// ("invalid_api_key").
	Reason string
	// Keys is how many keys the hold keeps suspect.
	Keys int64
	// Recent is how many keys the worker quarantined within the window.
	Recent int64
}

// Held reports whether the pool's brake holds.
func (h Hold) Held() bool { return !h.Since.IsZero() }

// Hold reads a pool's removal brake; window is the pool's removal window,
// over which Recent is counted.
func (s *Store) Hold(ctx context.Context, pool string, window time.Duration) (Hold, error) {
	res, err := s.eval(ctx, holdScript, pool, window.Milliseconds()).Slice()
	if err != nil {
		return Hold{}, fmt.Errorf("read removal hold of pool %q: %w", pool, err)
	}
	r := reply(res)
	if err := r.err(nil); err != nil || len(r) != 4 {
		return Hold{}, fmt.Errorf("read removal hold of pool %q: malformed reply (%w)", pool, err)
	}
	return Hold{Since: millis(r.int(0)), Reason: r.str(1), Keys: r.int(2), Recent: r.int(3)}, nil
}

// RestoreResult says what Restore did with each key id.
type RestoreResult struct {
	Restored []string
	// Unchanged were active already.
	Unchanged []string
	NotFound  []string
}

// Restore puts keys of a pool back to active on an admin's behalf,
// whatever parked them (quarantined, suspect, held by the brake,
// disabled, cooling down), and makes each due for the worker's check at
// once, so a key that really is dead goes through the two strikes again.
// Ids not in the pool are reported in NotFound.
func (s *Store) Restore(ctx context.Context, pool string, ids []string) (RestoreResult, error) {
	var res RestoreResult
	for start := 0; start < len(ids); start += s.batch {
		chunk := ids[start:min(start+s.batch, len(ids))]
		args := []any{s.actorAs("admin"), "ids", 0}
		for _, id := range chunk {
			args = append(args, id)
		}
		flags, err := s.eval(ctx, restoreScript, pool, args...).Int64Slice()
		if err != nil {
			return res, fmt.Errorf("restore %d keys of pool %q: %w", len(chunk), pool, err)
		}
		if len(flags) != len(chunk) {
			return res, fmt.Errorf("restore keys of pool %q: script answered %d results for %d keys", pool, len(flags), len(chunk))
		}
		for i, f := range flags {
			switch f {
			case 1:
				res.Restored = append(res.Restored, chunk[i])
			case 2:
				res.Unchanged = append(res.Unchanged, chunk[i])
			default:
				res.NotFound = append(res.NotFound, chunk[i])
			}
		}
	}
	return res, nil
}

// RestoreQuarantined restores every quarantined key of a pool, a batch
// per script, and returns their ids.
func (s *Store) RestoreQuarantined(ctx context.Context, pool string) ([]string, error) {
	var out []string
	for {
		ids, err := s.eval(ctx, restoreScript, pool, s.actorAs("admin"), "quarantined", s.batch).StringSlice()
		if err != nil {
			return out, fmt.Errorf("restore quarantined keys of pool %q: %w", pool, err)
		}
		out = append(out, ids...)
		if len(ids) < s.batch {
			return out, nil
		}
	}
}

// ReleaseRemovals lifts a pool's removal hold on an admin's behalf: the
// keys it held (suspect, confirmed invalid) are quarantined now and the
// brake's window starts afresh. recheck is when those keys are checked
// next (the pool's disabled interval). It returns their ids.
func (s *Store) ReleaseRemovals(ctx context.Context, pool string, recheck time.Duration) ([]string, error) {
	ids, err := s.eval(ctx, releaseScript, pool, s.actorAs("admin"), recheck.Milliseconds()).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("release removals of pool %q: %w", pool, err)
	}
	return ids, nil
}

// Purge deletes the keys of a pool quarantined for longer than retention,
// each audited as removed by the broker ("quarantine_expired"), a batch
// per script, and returns their ids.
func (s *Store) Purge(ctx context.Context, pool string, retention time.Duration) ([]string, error) {
	var out []string
	for {
		ids, err := s.eval(ctx, purgeScript, pool, retention.Milliseconds(), s.batch).StringSlice()
		if err != nil {
			return out, fmt.Errorf("purge quarantined keys of pool %q: %w", pool, err)
		}
		out = append(out, ids...)
		if len(ids) < s.batch {
			return out, nil
		}
	}
}
