package broker

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/keybroker/keybroker/server"
)

// replayInterval is how often failure reports queued during an outage are
// retried against the store.
const replayInterval = 500 * time.Millisecond

// flushTimeout bounds the last write of the view's lease counts (within
// what is left of ShutdownTimeout).
const flushTimeout = 5 * time.Second

// Run serves until ctx ends or a component fails (the listener, the view's
// subscription, the worker), then shuts down in this order, and returns
// the failure, if any:
//
//  1. health turns NOT_SERVING (grpc.health.v1 and /readyz), and the
//     broker keeps serving for DrainGrace, so load balancers and meshes
//     that poll health see it and stop sending new calls before the
//     listener closes;
//  2. health Watch streams end (UNAVAILABLE), then the gRPC server stops
//     gracefully: calls in flight get what is left of ShutdownTimeout
//     (less a reserve for steps 3-5), then the rest are cut;
//  3. the background loops stop (health monitor, wake loop, report replay,
//     worker, view, Config.Loops) and the metrics listener closes last:
//     they ran through the drain, so the calls it served saw a live view;
//  4. failure reports still queued from an outage get a last attempt, and
//     the view (or the per-call Redis picker) flushes the lease counts of
//     the calls served meanwhile;
//  5. Redis (and the embedded store) closes.
//
// Steps 2 to 5 together take at most ShutdownTimeout: a frozen Redis does
// not hold the process past it (loops still waiting on Redis are left
// behind, and what could not be written is logged as lost).
//
// Run closes the broker: it runs once.
func (b *Broker) Run(ctx context.Context) error {
	if b.closed {
		return errors.New("broker: Run after Close")
	}
	loopCtx, stopLoops := context.WithCancel(context.WithoutCancel(ctx))
	defer stopLoops()
	failed := make(chan error, 1)
	fail := func(err error) {
		if err != nil {
			select {
			case failed <- err:
			default:
			}
		}
	}
	var loops sync.WaitGroup
	for _, loop := range b.loops() {
		loops.Add(1)
		go func() { defer loops.Done(); fail(loop(loopCtx)) }()
	}
	served := make(chan struct{})
	if b.grpc != nil {
		go func() { defer close(served); fail(b.grpc.Serve(b.lis)) }()
	} else {
		close(served)
	}

	var err error
	select {
	case <-ctx.Done():
	case err = <-failed:
		b.log.Error("stopping: a component failed", "err", err)
	}
	b.shutdown(served, stopLoops, &loops)
	return err
}

// shutdown runs the sequence Run documents.
func (b *Broker) shutdown(served <-chan struct{}, stopLoops func(), loops *sync.WaitGroup) {
	b.health.Shutdown()
	if b.grpc != nil && b.cfg.DrainGrace > 0 {
		b.log.Info("draining: health NOT_SERVING, still serving for the drain grace", "grace", b.cfg.DrainGrace)
		time.Sleep(b.cfg.DrainGrace)
	}
	deadline := time.Now().Add(b.cfg.ShutdownTimeout)
	if b.grpc != nil {
		close(b.draining)
		b.drain(deadline.Add(-shutdownReserve(b.cfg.ShutdownTimeout)))
	}
	<-served
	stopLoops()
	if !waitUntil(loops, deadline) {
		b.log.Warn("shutdown timeout reached while background loops were stopping (Redis slow or frozen?); leaving them")
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if b.svc != nil {
		b.svc.FlushReports(ctx)
	}
	if b.view != nil {
		// The view's own last flush (its Run returning) may still hold the
		// flush lock on a frozen Redis: wait for this one no longer than
		// the deadline.
		fctx, fcancel := context.WithTimeout(ctx, flushTimeout)
		flushed := make(chan struct{})
		go func() { b.view.Flush(fctx); close(flushed) }()
		select {
		case <-flushed:
		case <-fctx.Done():
			b.log.Warn("shutdown timeout reached before the lease counts were written; they are lost")
		}
		fcancel()
	}
	if b.picker != nil {
		ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
		if _, err := b.picker.Flush(ctx); err != nil {
			b.log.Warn("lease counts lost at shutdown", "err", err)
		}
		cancel()
	}
	b.closed = true
	b.closeRedis()
}

// shutdownReserve is the part of the shutdown timeout kept for the last
// writes (queued reports, lease counts) after the gRPC drain.
func shutdownReserve(timeout time.Duration) time.Duration {
	return min(timeout/5, time.Second)
}

// waitUntil waits for wg until deadline and reports whether it finished.
func waitUntil(wg *sync.WaitGroup, deadline time.Time) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// drain stops the gRPC server gracefully: until deadline for calls in
// flight, then a hard stop.
func (b *Broker) drain(deadline time.Time) {
	b.log.Info("draining", "timeout", time.Until(deadline).Round(time.Millisecond))
	done := make(chan struct{})
	go func() { b.grpc.GracefulStop(); close(done) }()
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-done:
		b.log.Info("stopped")
	case <-t.C:
		b.log.Warn("shutdown timeout reached; closing remaining calls")
		b.grpc.Stop()
		<-done
	}
}

// loops are the background loops of this broker; each runs until its
// context ends, and an error from one stops the broker.
func (b *Broker) loops() []func(context.Context) error {
	out := []func(context.Context) error{b.monitorHealth, b.syncAuditLengths}
	if b.svc != nil {
		out = append(out,
			func(ctx context.Context) error { wakeLoop(ctx, b.store, b.cfg.WakeInterval, b.log); return nil },
			func(ctx context.Context) error { b.svc.ReplayReports(ctx, replayInterval); return nil },
			b.budgets.Run)
	}
	if b.view != nil {
		out = append(out, b.view.Run)
	}
	if b.picker != nil {
		out = append(out, func(ctx context.Context) error {
			flushLoop(ctx, b.picker, orDefault(b.cfg.FlushInterval, time.Second), b.log)
			return nil
		})
	}
	if b.worker != nil {
		out = append(out, b.worker.Run)
	}
	if b.ops != nil {
		out = append(out, b.ops.serve)
	}
	if b.probes != nil {
		out = append(out, b.probes.serve)
	}
	for _, l := range b.cfg.Loops {
		out = append(out, func(ctx context.Context) error { l(ctx); return nil })
	}
	return out
}

// monitorHealth keeps grpc.health.v1 in step with Redis, per pool too
// (server.PerPool). With the view, the broker stays SERVING through an
// outage while leases are fresh, and each pool while its own answers are.
func (b *Broker) monitorHealth(ctx context.Context) error {
	now, maxStale := b.opts.now, b.cfg.MaxStaleness
	var opts []server.HealthOption
	if b.view != nil {
		opts = append(opts,
			server.WhileDegraded(func() bool { return b.contact.Fresh(now(), maxStale) }),
			server.PerPool(b.contact.Pools, b.store.ProbePools, func(pool string) bool { return b.contact.PoolFresh(pool, now(), maxStale) }))
	} else {
		opts = append(opts, server.PerPool(b.contact.Pools, b.store.ProbePools, nil))
	}
	server.MonitorHealth(ctx, b.health, b.store.Ping, b.cfg.HealthInterval, b.log, opts...)
	return nil
}
