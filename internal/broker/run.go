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

// flushTimeout bounds the last write of the view's lease counts.
const flushTimeout = 5 * time.Second

// Run serves until ctx ends or a component fails (the listener, the view's
// subscription, the worker), then shuts down in this order, and returns
// the failure, if any:
//
//  1. health turns NOT_SERVING (grpc.health.v1 and /readyz), so load
//     balancers stop sending new calls;
//  2. the gRPC server stops gracefully: calls in flight get
//     ShutdownTimeout to finish, then the rest are cut;
//  3. the background loops stop (health monitor, wake loop, report replay,
//     worker, view, Config.Loops) and the metrics listener closes: they
//     ran through the drain, so the calls it served saw a live view and
//     their reports were applied;
//  4. the view (or the per-call Redis picker) flushes the lease counts of
//     the calls served meanwhile;
//  5. Redis (and the embedded store) closes.
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
	if b.grpc != nil {
		b.drain()
	}
	<-served
	stopLoops()
	loops.Wait()
	if b.view != nil {
		ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
		b.view.Flush(ctx)
		cancel()
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

// drain stops the gRPC server gracefully: up to ShutdownTimeout for calls
// in flight, then a hard stop.
func (b *Broker) drain() {
	timeout := b.cfg.ShutdownTimeout
	b.log.Info("draining", "timeout", timeout)
	done := make(chan struct{})
	go func() { b.grpc.GracefulStop(); close(done) }()
	t := time.NewTimer(timeout)
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
			func(ctx context.Context) error { b.svc.ReplayReports(ctx, replayInterval); return nil })
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

// monitorHealth keeps grpc.health.v1 in step with Redis. With the view,
// the broker stays SERVING through an outage while leases are fresh.
func (b *Broker) monitorHealth(ctx context.Context) error {
	ping := func(ctx context.Context) error {
		err := b.store.Ping(ctx)
		if err == nil {
			b.contact.Answered(time.Now())
		}
		return err
	}
	var opts []server.HealthOption
	if b.view != nil {
		opts = append(opts, server.WhileDegraded(func() bool { return b.contact.Fresh(time.Now(), b.cfg.MaxStaleness) }))
	}
	server.MonitorHealth(ctx, b.health, ping, b.cfg.HealthInterval, b.log, opts...)
	return nil
}
