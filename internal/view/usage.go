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
// a write fails to deliver are kept for the next flush, as the numbered
// batch they were sent in: the store applies a batch once, so a retry of
// one that landed before its reply was lost does not count its leases
// twice. Call it after the server has stopped, for the leases of the last
// calls. Flushes run one at a time: when Flush returns, every count picked
// before it was called has been written (or kept for the next flush), even
// if the periodic flush had taken it.
func (v *View) Flush(ctx context.Context) int {
	v.flushMu.Lock()
	defer v.flushMu.Unlock()
	written := 0
	for _, p := range v.all() {
		batches := p.takeUnsaved()
		for recs := p.takeUsage(); len(recs) > 0; recs = recs[min(usageBatchSize, len(recs)):] {
			v.seq++
			batches = append(batches, store.UsageBatch{Flusher: v.flusher, Seq: v.seq, Usage: recs[:min(usageBatchSize, len(recs))]})
		}
		for i, b := range batches {
			if _, err := v.keys.RecordUsageBatch(ctx, p.name, b); err != nil {
				if ctx.Err() == nil { // at shutdown the final flush retries them
					v.log.Warn("view: cannot write lease counts; keeping them for the next flush", "pool", p.name, "batches", len(batches)-i, "err", err)
				}
				if dropped := p.keepUnsaved(batches[i:]); dropped > 0 {
					v.log.Error("view: dropped lease counts that could not be written", "pool", p.name, "keys", dropped)
				}
				break
			}
			written += len(b.Usage)
		}
	}
	return written
}

// usageBatchSize is how many keys' counts one usage batch carries.
const usageBatchSize = 1000

// takeUsage collects and resets every count not yet sent: those of keys
// that left the view, and of the keys in it.
func (p *pool) takeUsage() []store.Usage {
	p.umu.Lock()
	batch := p.retired
	p.retired = nil
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

// takeUnsaved returns the batches failed flushes kept, oldest first.
func (p *pool) takeUnsaved() []store.UsageBatch {
	p.umu.Lock()
	defer p.umu.Unlock()
	b := p.unsaved
	p.unsaved = nil
	return b
}

// keepUnsaved keeps batches that could not be written for the next flush,
// up to maxUnsaved records (the oldest batches go first), and returns how
// many records it dropped.
func (p *pool) keepUnsaved(batches []store.UsageBatch) int {
	p.umu.Lock()
	defer p.umu.Unlock()
	p.unsaved = append(batches, p.unsaved...)
	records := 0
	for _, b := range p.unsaved {
		records += len(b.Usage)
	}
	dropped := 0
	for records > maxUnsaved && len(p.unsaved) > 1 {
		records -= len(p.unsaved[0].Usage)
		dropped += len(p.unsaved[0].Usage)
		p.unsaved = p.unsaved[1:]
	}
	return dropped
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
