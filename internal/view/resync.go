package view

import (
	"context"
	"fmt"
	"time"

	"github.com/keybroker/keybroker/internal/config"
	"github.com/keybroker/keybroker/internal/store"
)

// sweepChunk bounds how many positions a sweep visits per write lock, so
// picks wait microseconds, not the length of a million-key sweep.
const sweepChunk = 4096

// Resync reloads a pool from Redis now and waits for it; the view does
// this by itself after every reconnect and on its interval.
func (v *View) Resync(ctx context.Context, pool string) error {
	return v.resync(ctx, v.poolFor(pool))
}

// resync makes the pool's view equal to Redis without stalling picks or
// notifications: it pages through the pool's active keys (outside any
// lock), marks the keys it sees (writing only one page at a time, and
// fetching the secrets of keys it lacks), then sweeps the keys no page
// marked. A key re-read (for a notification or Refresh) while it ran
// keeps that newer state rather than what an older page said.
func (v *View) resync(ctx context.Context, p *pool) error {
	p.smu.Lock()
	defer p.smu.Unlock()
	start := time.Now()
	first := !p.ready.Load()
	p.wmu.Lock()
	p.gen++
	p.syncing, p.touched = true, map[keyID]struct{}{}
	withSecrets := first || len(p.ents) == 0
	p.wmu.Unlock()
	defer func() {
		p.wmu.Lock()
		p.syncing, p.touched = false, nil
		p.wmu.Unlock()
	}()

	if err := v.loadPages(ctx, p, withSecrets); err != nil {
		return fmt.Errorf("resync pool %q: %w", p.name, err)
	}
	swept := p.sweep()
	p.ready.Store(true)
	n := p.len()
	if first {
		v.log.Info("view: pool loaded", "pool", p.name, "keys", n, "took", time.Since(start).Round(time.Millisecond))
	} else {
		v.log.Debug("view: pool resynchronised", "pool", p.name, "keys", n, "dropped", swept, "took", time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// loadPages reads the pool's active keys page by page and applies them.
func (v *View) loadPages(ctx context.Context, p *pool, withSecrets bool) error {
	after := ""
	for {
		page, err := v.keys.ActivePage(ctx, p.name, after, v.pageSize, withSecrets)
		if err != nil {
			return err
		}
		if len(page.Keys) == 0 {
			return nil
		}
		if after == "" {
			p.reserve(page)
		}
		if missing := p.applyPage(page.Keys); len(missing) > 0 {
			if err := v.refresh(ctx, p, missing); err != nil {
				return err
			}
		}
		if len(page.Keys) < v.pageSize {
			return nil
		}
		after = page.Keys[len(page.Keys)-1].ID
	}
}

// applyPage marks (or inserts) the page's keys, skipping those changed
// since the resync began, and returns the ids whose secrets it lacks.
func (p *pool) applyPage(keys []store.Current) (missing []string) {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range keys {
		k, ok := parseID(c.ID)
		if !ok {
			continue
		}
		if _, changed := p.touched[k]; changed {
			continue
		}
		if p.apply(c) {
			missing = append(missing, c.ID)
		}
	}
	return missing
}

// sweep drops every key the resync did not see, a chunk of positions per
// write lock, from the end: a removal moves the last key, already visited,
// into the hole. It returns how many it dropped.
func (p *pool) sweep() int {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	dropped := 0
	for hi := len(p.ents); hi > 0; {
		lo := max(hi-sweepChunk, 0)
		p.mu.Lock()
		for i := hi - 1; i >= lo; i-- {
			if p.ents[i].mark != p.gen {
				p.removeAt(i)
				dropped++
			}
		}
		p.mu.Unlock()
		hi = lo
	}
	p.maybeCompact()
	return dropped
}

// reserve sizes an empty pool's memory for the whole first load at once,
// from the active count and the first page's secrets, so that loading a
// million keys neither copies its slices over and over nor leaves slack.
func (p *pool) reserve(page store.ActivePage) {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	if len(p.ents) > 0 || page.Total <= len(page.Keys) {
		return
	}
	var bytes int
	for _, c := range page.Keys {
		bytes += idLen + len(c.Secret)
	}
	n := page.Total + page.Total/64 // room for keys added while loading
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ents = make([]entry, 0, n)
	p.ctrs = make([]counter, 0, n)
	p.index = make(map[keyID]int32, n)
	p.arena = make([]byte, 0, bytes/len(page.Keys)*n)
	if p.strategy == config.Weighted {
		p.tree.t = make([]int64, 0, n)
	}
}
