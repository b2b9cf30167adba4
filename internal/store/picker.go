package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Picker is the per-call Redis selection (`--selection-source redis`):
// every Pick asks Redis, with one SRANDMEMBER on the pool's selectable
// set, which holds active keys only, so a key parked by any replica is
// never leased after the script that parked it. That is the seed
// design's one command per call; what the seed did not have costs no
// more Redis work per call:
//
//   - the secret of a key id is read once and cached (a key id is a keyed
//     hash of its secret, so the pair never changes; a removed key leaves
//     the selectable set, so its cached secret is not leased again);
//   - lease counts and last-used times are added up in memory and written
//     by Flush, as the in-memory view does.
//
// When the set is empty, Pick runs the full pick script, which wakes due
// keys and says why there is none. Safe for concurrent use.
type Picker struct {
	st    *Store
	pools sync.Map // pool name → *pickerPool

	flushMu sync.Mutex // one Flush at a time
	flusher string     // names this picker's usage batches (UsageBatch)
	seq     int64      // the last usage batch's number, under flushMu
}

type pickerPool struct {
	active  []string // the selectable set's key name, as Redis keys
	secrets sync.Map // key id → plaintext secret
	cached  int      // entries in secrets, approximately (under mu)

	mu      sync.Mutex
	usage   map[string]*Usage // key id → leases not yet written
	unsaved []UsageBatch      // batches a failed flush could not write, retried first and as they were (under Picker.flushMu)
}

// maxCachedSecrets bounds one pool's secret cache; past it the cache
// starts over (keys that were removed would otherwise pile up).
const maxCachedSecrets = 1 << 20

// NewPicker returns a Picker over the store.
func (s *Store) NewPicker() *Picker { return &Picker{st: s, flusher: NewFlusherName()} }

// Pick leases a random active key of pool. With no active key it returns
// a *NoKeyError, like Store.Pick.
func (p *Picker) Pick(ctx context.Context, pool string) (Picked, error) {
	pp, known := p.pool(pool)
	id, err := p.st.rdb.SRandMember(ctx, pp.active[0]).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return p.st.pickSlow(ctx, pool) // counts its own lease
	case err != nil:
		return Picked{}, fmt.Errorf("pick from pool %q: %w", pool, err)
	}
	if !known {
		pp = p.keep(pool, pp)
	}
	secret, err := p.secret(ctx, pp, pool, id)
	if errors.Is(err, redis.Nil) { // removed since SRANDMEMBER
		return p.st.pickSlow(ctx, pool)
	}
	if err != nil {
		return Picked{}, fmt.Errorf("pick from pool %q: %w", pool, err)
	}
	pp.count(id, p.st.now())
	return Picked{KeyID: id, Secret: secret}, nil
}

// pool returns a pool's state; one not seen before is kept only once it
// has leased a key (keep), so pool names callers make up leave nothing.
func (p *Picker) pool(name string) (pp *pickerPool, known bool) {
	if v, ok := p.pools.Load(name); ok {
		return v.(*pickerPool), true
	}
	return &pickerPool{active: []string{prefix(name) + "active"}, usage: map[string]*Usage{}}, false
}

// keep makes pp the state of pool, unless another call did first.
func (p *Picker) keep(pool string, pp *pickerPool) *pickerPool {
	v, _ := p.pools.LoadOrStore(pool, pp)
	return v.(*pickerPool)
}

// secret returns a key's secret, from the cache or from Redis.
func (p *Picker) secret(ctx context.Context, pp *pickerPool, pool, id string) (string, error) {
	if s, ok := pp.secrets.Load(id); ok {
		return s.(string), nil
	}
	stored, err := p.st.rdb.HGet(ctx, prefix(pool)+"k:"+id, "s").Result()
	if err != nil {
		return "", err
	}
	plain, err := p.st.openSecret(pool, id, stored)
	if err != nil {
		return "", err
	}
	pp.mu.Lock()
	if pp.cached >= maxCachedSecrets {
		pp.secrets.Clear()
		pp.cached = 0
	}
	pp.cached++
	pp.mu.Unlock()
	pp.secrets.Store(id, plain)
	return plain, nil
}

func (pp *pickerPool) count(id string, now time.Time) {
	pp.mu.Lock()
	u := pp.usage[id]
	if u == nil {
		u = &Usage{ID: id}
		pp.usage[id] = u
	}
	u.Leases++
	if now.After(u.LastUsed) {
		u.LastUsed = now
	}
	pp.mu.Unlock()
}

// take collects and resets the pool's counts.
func (pp *pickerPool) take() []Usage {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	if len(pp.usage) == 0 {
		return nil
	}
	out := make([]Usage, 0, len(pp.usage))
	for _, u := range pp.usage {
		out = append(out, *u)
	}
	clear(pp.usage)
	return out
}

// Flush writes the lease counts added up since the last flush and returns
// how many keys' records it wrote; counts it cannot write are kept for
// the next one, as the numbered batch they were sent in, so that a retry
// of a batch that landed unacknowledged does not count twice. Call it
// after the server has stopped, for the last calls.
func (p *Picker) Flush(ctx context.Context) (int, error) {
	p.flushMu.Lock()
	defer p.flushMu.Unlock()
	written := 0
	var errs []error
	p.pools.Range(func(name, v any) bool {
		pp := v.(*pickerPool)
		batches := pp.unsaved
		pp.unsaved = nil
		if usage := pp.take(); len(usage) > 0 {
			p.seq++
			batches = append(batches, UsageBatch{Flusher: p.flusher, Seq: p.seq, Usage: usage})
		}
		for i, b := range batches {
			if _, err := p.st.RecordUsageBatch(ctx, name.(string), b); err != nil {
				pp.unsaved = batches[i:]
				errs = append(errs, err)
				break
			}
			written += len(b.Usage)
		}
		return true
	})
	return written, errors.Join(errs...)
}
