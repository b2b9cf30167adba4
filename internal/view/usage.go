package view

import (
	"context"
	"time"

	"github.com/keybroker/keybroker/internal/config"
	"github.com/keybroker/keybroker/internal/store"
)

// maxUnsaved bounds the usage records kept across failed flushes; beyond
// it (Redis away for long under heavy traffic) the oldest are dropped and
// the loss is logged: lease counts are statistics, not state.
const maxUnsaved = 1 << 20

// flushLoop writes usage counts to Redis every flush interval, and once
// more when ctx ends.
func (v *View) flushLoop(ctx context.Context) {
	t := time.NewTicker(v.flushEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			v.Flush(fctx)
			cancel()
			return
		case <-t.C:
			v.followPolicies()
			v.Flush(ctx)
		}
	}
}

// Flush writes the lease counts and last-used times counted in memory to
// Redis, pool by pool, and returns how many keys' records it wrote. Counts
// a write fails to deliver are kept for the next flush. Call it after the
// server has stopped, for the leases of the last calls. Flushes run one at
// a time: when Flush returns, every count picked before it was called has
// been written (or kept for the next flush), even if the periodic flush
// had taken it.
func (v *View) Flush(ctx context.Context) int {
	v.flushMu.Lock()
	defer v.flushMu.Unlock()
	written := 0
	for _, p := range v.all() {
		batch := p.takeUsage()
		if len(batch) == 0 {
			continue
		}
		n, err := v.keys.RecordUsage(ctx, p.name, batch)
		written += n
		if err == nil {
			continue
		}
		if ctx.Err() == nil { // at shutdown the final flush retries them
			v.log.Warn("view: cannot write lease counts; keeping them for the next flush", "pool", p.name, "keys", len(batch)-n, "err", err)
		}
		if dropped := p.keepUnsaved(batch[n:]); dropped > 0 {
			v.log.Error("view: dropped lease counts that could not be written", "pool", p.name, "keys", dropped)
		}
	}
	return written
}

// takeUsage collects and resets every count not yet written: those of
// failed flushes, of keys that left the view, and of the keys in it.
func (p *pool) takeUsage() []store.Usage {
	p.umu.Lock()
	batch := append(p.unsaved, p.retired...)
	p.unsaved, p.retired = nil, nil
	p.umu.Unlock()
	p.mu.RLock()
	defer p.mu.RUnlock()
	for i := range p.ctrs {
		c := &p.ctrs[i]
		if c.leases.Load() == 0 {
			continue
		}
		n := c.leases.Swap(0)
		batch = append(batch, store.Usage{ID: p.idAt(i), Leases: int64(n), LastUsed: unixMilli(c.lastUsed.Load())})
	}
	return batch
}

// keepUnsaved keeps a batch that could not be written for the next flush,
// up to maxUnsaved records, and returns how many it dropped.
func (p *pool) keepUnsaved(batch []store.Usage) int {
	p.umu.Lock()
	defer p.umu.Unlock()
	p.unsaved = append(batch, p.unsaved...)
	if over := len(p.unsaved) - maxUnsaved; over > 0 {
		p.unsaved = p.unsaved[over:]
		return over
	}
	return 0
}

// restartWindows starts a new least_used window in every such pool.
func (v *View) restartWindows() {
	for _, p := range v.all() {
		p.mu.RLock()
		if p.strategy == config.LeastUsed {
			for i := range p.ctrs {
				p.ctrs[i].window.Store(0)
			}
		}
		p.mu.RUnlock()
	}
}
