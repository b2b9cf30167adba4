package view

import (
	"context"
	"slices"
	"time"
)

// enqueue hands the key ids of a notification to the pool's follower. It
// never blocks, so a slow pool cannot hold up the others.
func (p *pool) enqueue(ids []string) {
	p.queueMu.Lock()
	p.queue = append(p.queue, ids...)
	p.queueMu.Unlock()
	select {
	case p.queued <- struct{}{}:
	default:
	}
}

// dequeue takes every queued id, each once.
func (p *pool) dequeue() []string {
	p.queueMu.Lock()
	ids := p.queue
	p.queue = nil
	p.queueMu.Unlock()
	slices.Sort(ids)
	return slices.Compact(ids)
}

// follow applies the pool's notifications as they come: it fetches what
// the named keys are now and applies that. Fetching the current state
// makes the order of notifications irrelevant: whatever they said, the
// state read after them is at least as new. A failed fetch is retried
// (Redis away means a resync follows the reconnect anyway).
func (v *View) follow(ctx context.Context, p *pool) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.queued:
		}
		ids := p.dequeue()
		for len(ids) > 0 {
			batch := ids[:min(len(ids), v.pageSize)]
			if err := v.refresh(ctx, p, batch); err != nil {
				if ctx.Err() != nil {
					return
				}
				v.log.Warn("view: cannot fetch changed keys; retrying", "pool", p.name, "keys", len(ids), "err", err)
				p.enqueue(ids)
				sleep(ctx, 100*time.Millisecond)
				break
			}
			ids = ids[len(batch):]
		}
	}
}

// refresh fetches keys and applies what they are now. wmu is held across
// the fetch, so that reads are applied in the order they were made: the
// last state applied is the one read last, and any change after that read
// brings a notification that reads again.
func (v *View) refresh(ctx context.Context, p *pool, ids []string) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	cur, err := v.keys.Fetch(ctx, p.name, ids)
	if err != nil {
		return err
	}
	p.mu.Lock()
	for _, c := range cur {
		if c.Err != nil {
			v.log.Warn("view: key not leased: its sealed value cannot be opened", "pool", p.name, "key_id", c.ID, "err", c.Err)
		}
		p.apply(c)
		if k, ok := parseID(c.ID); ok {
			p.touch(k)
		}
	}
	p.mu.Unlock()
	p.maybeCompact()
	return nil
}
