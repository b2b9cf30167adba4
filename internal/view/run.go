package view

import (
	"context"
	"errors"
	"time"

	"github.com/keybroker/keybroker/internal/store"
)

// Run loads every pool and keeps the view in step with Redis until ctx
// ends: it subscribes to every pool's notifications, resynchronises every
// pool after each (re)subscription and every resync interval, flushes
// usage counts every flush interval, and restarts least_used windows. On
// return it has flushed the counts it holds; counts of picks made after
// that are written by Flush. It returns nil when ctx ends.
func (v *View) Run(ctx context.Context) error {
	events := v.keys.Subscribe(ctx)

	rs := &runState{ctx: ctx}
	v.mu.Lock()
	v.run = rs
	for _, p := range *v.pools.Load() {
		v.start(p)
	}
	v.mu.Unlock()
	defer func() {
		rs.wg.Wait()
		v.mu.Lock()
		v.run = nil
		v.mu.Unlock()
	}()
	rs.wg.Add(1)
	go func() { defer rs.wg.Done(); v.flushLoop(ctx) }()

	resync := time.NewTicker(v.resyncEvery)
	defer resync.Stop()
	window := time.NewTicker(v.window)
	defer window.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-events:
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				return errors.New("view: the notification subscription closed")
			}
			v.receive(rs, ev)
		case <-resync.C:
			v.resyncAll(rs)
		case <-window.C:
			v.restartWindows()
		}
	}
}

// receive handles one item of the subscription: a (re)subscription means
// notifications may have been lost, so every pool is reloaded; a message
// goes to its pool's follower.
func (v *View) receive(rs *runState, ev store.Event) {
	switch ev.Kind {
	case store.EventSubscribed:
		v.log.Debug("view: subscribed to pool notifications; resynchronising")
		v.resyncAll(rs)
	case store.EventMalformed:
		v.log.Warn("view: ignoring a malformed notification", "channel", ev.Channel)
	default:
		v.poolFor(ev.Pool).enqueue(ev.IDs)
	}
}

// resyncAll asks every pool to reload: those the view knows at once, and
// those only Redis lists once listed (the listing runs apart, so
// notifications keep flowing; a new pool loads when it is created).
func (v *View) resyncAll(rs *runState) {
	for _, p := range v.all() {
		p.wantSync()
	}
	rs.wg.Add(1)
	go func() {
		defer rs.wg.Done()
		for wait := 100 * time.Millisecond; rs.ctx.Err() == nil; wait = min(2*wait, 10*time.Second) {
			names, err := v.keys.Pools(rs.ctx)
			if err == nil {
				for _, name := range names {
					if v.lookup(name) == nil {
						v.poolFor(name)
					}
				}
				return
			}
			v.log.Warn("view: cannot list pools; retrying", "err", err)
			sleep(rs.ctx, wait)
		}
	}()
}

// start runs a pool's follower and resyncer and asks for its first load.
// Callers hold v.mu with v.run set, and run under v.run's wait group or
// before Run waits on it.
func (v *View) start(p *pool) {
	rs := v.run
	if rs.ctx.Err() != nil {
		return
	}
	rs.wg.Add(2)
	go func() { defer rs.wg.Done(); v.follow(rs.ctx, p) }()
	go func() { defer rs.wg.Done(); v.resyncLoop(rs.ctx, p) }()
	p.wantSync()
}

// wantSync asks the pool's resyncer for a full resync; requests made while
// one runs are merged into one more after it, which a reconnect in the
// middle of a resync needs.
func (p *pool) wantSync() {
	select {
	case p.syncWanted <- struct{}{}:
	default:
	}
}

// resyncLoop runs the pool's resyncs as they are asked for, retrying a
// failed one after a pause.
func (v *View) resyncLoop(ctx context.Context, p *pool) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.syncWanted:
		}
		if err := v.resync(ctx, p); err != nil && ctx.Err() == nil {
			v.log.Warn("view: resynchronising a pool failed; retrying", "pool", p.name, "err", err)
			p.wantSync()
			sleep(ctx, time.Second)
		}
	}
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// unixMilli turns a stored last-used time into a time; 0 is none.
func unixMilli(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}
