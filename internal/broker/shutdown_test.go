package broker_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/broker"
	"github.com/keybroker/keybroker/internal/redistest"
	"github.com/keybroker/keybroker/internal/store"
	"github.com/keybroker/keybroker/internal/testkit"
	"github.com/keybroker/keybroker/server"
)

// startServing builds and runs a broker over addr with one key in pool p
// loaded into the view, and returns it, its client, its key id and stop.
func startServing(t *testing.T, cfg broker.Config) (*broker.Broker, pb.KeyBrokerServiceClient, healthpb.HealthClient, string, func() error) {
	t.Helper()
	cfg.Listen = "127.0.0.1:0"
	b, err := broker.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, b)
	conn := dial(t, b.Addr())
	c := pb.NewKeyBrokerServiceClient(conn)
	added, err := c.Add(callCtx(t), &pb.AddRequest{Pool: "p", Secrets: []string{"sk-drain-visible-0123456789"}})
	if err != nil {
		t.Fatal(err)
	}
	id := added.GetKeyIds()[0]
	testkit.Eventually(t, wait, 10*time.Millisecond, "the view serves the key", func() bool { return b.View().Contains("p", id) })
	return b, c, healthpb.NewHealthClient(conn), id, stop
}

// On SIGTERM a load balancer polling health must see NOT_SERVING while
// the broker still answers, or it keeps sending calls to a closed port.
// Before DrainGrace the listener closed at once: NOT_SERVING was never
// observable over the network and new calls failed within milliseconds.
func TestDrainIsVisibleBeforeTheListenerCloses(t *testing.T) {
	rs := redistest.Start(t)
	_, c, hc, _, stop := startServing(t, broker.Config{
		Redis: store.RedisConfig{Addrs: []string{rs.Addr}}, DrainGrace: 3 * time.Second,
	})
	stopped := make(chan error, 1)
	began := time.Now()
	go func() { stopped <- stop() }()
	testkit.Eventually(t, wait, 10*time.Millisecond, "health NOT_SERVING over the network while draining", func() bool {
		resp, err := hc.Check(callCtx(t), &healthpb.HealthCheckRequest{})
		return err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_NOT_SERVING
	})
	t.Logf("NOT_SERVING seen over the network %s after stop", time.Since(began).Round(time.Millisecond))
	if _, err := c.GetRandom(callCtx(t), &pb.GetRandomRequest{Pool: "p"}); err != nil {
		t.Fatalf("GetRandom during the drain grace = %v; the broker should still serve", err)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("Run: %v", err)
	}
	t.Logf("Run returned %s after stop (DrainGrace 3s)", time.Since(began).Round(time.Millisecond))
}

// A health Watch stream (a mesh sidecar, a load balancer) must not hold
// the shutdown for the whole ShutdownTimeout: it is ended, UNAVAILABLE,
// after showing NOT_SERVING. The timeout here is longer than the test's
// own wait, so a Watch that held the stop fails the test.
func TestHealthWatchDoesNotHoldTheShutdown(t *testing.T) {
	rs := redistest.Start(t)
	_, _, hc, _, stop := startServing(t, broker.Config{
		Redis: store.RedisConfig{Addrs: []string{rs.Addr}}, ShutdownTimeout: 2 * wait,
	})
	watch, err := hc.Watch(callCtx(t), &healthpb.HealthCheckRequest{Service: server.StoreService})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := watch.Recv(); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	t.Logf("Run returned %s after stop with a Watch open (ShutdownTimeout %s)", time.Since(began).Round(time.Millisecond), 2*wait)
	sawNotServing := false
	for {
		resp, err := watch.Recv()
		if err != nil {
			if status.Code(err) != codes.Unavailable {
				t.Fatalf("the Watch ended with %v, want UNAVAILABLE", err)
			}
			break
		}
		sawNotServing = sawNotServing || resp.GetStatus() == healthpb.HealthCheckResponse_NOT_SERVING
	}
	if !sawNotServing {
		t.Error("the Watch ended without showing NOT_SERVING")
	}
}

// With Redis frozen (SIGSTOP) and a --redis-timeout far longer than
// --shutdown-timeout, the broker must still stop within the shutdown
// timeout: the last writes are bounded by it. Before, the process
// outlived it by up to the Redis timeout (loops and the final flush
// waiting on Redis). The Redis timeout here exceeds the test's own wait.
func TestShutdownIsBoundedWithRedisFrozen(t *testing.T) {
	rs := redistest.Start(t)
	_, c, _, _, stop := startServing(t, broker.Config{
		Redis:           store.RedisConfig{Addrs: []string{rs.Addr}, Timeout: 2 * wait},
		ShutdownTimeout: 500 * time.Millisecond, FlushInterval: time.Hour,
	})
	got, err := c.GetRandom(callCtx(t), &pb.GetRandomRequest{Pool: "p"})
	if err != nil {
		t.Fatal(err)
	}
	rs.Freeze()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	resp, err := c.ReportFailure(ctx, &pb.ReportFailureRequest{Pool: "p",
		Key: &pb.ReportFailureRequest_LeaseId{LeaseId: got.GetLease().GetLeaseId()}, HttpStatus: 429})
	if err != nil || !resp.GetQueued() {
		t.Fatalf("report with Redis frozen = %v, %v; want queued", resp, err)
	}
	began := time.Now()
	if err := stop(); err != nil { // run's stop fails the test past its wait
		t.Fatalf("Run: %v", err)
	}
	t.Logf("Run returned %s after stop with Redis frozen (ShutdownTimeout 500ms, Redis timeout %s)", time.Since(began).Round(time.Millisecond), 2*wait)
}

// Reports queued during an outage get a last attempt at shutdown: Redis
// is back, but the replay loop has not run yet when SIGTERM arrives.
// Before, the buffer was discarded (5 of 5 lost).
func TestShutdownAppliesQueuedReports(t *testing.T) {
	rs := redistest.Start(t)
	px := redistest.StartProxy(t, rs.Addr)
	b, c, _, id, stop := startServing(t, broker.Config{
		Redis: store.RedisConfig{Addrs: []string{px.Addr}, Timeout: 200 * time.Millisecond},
	})
	got, err := c.GetRandom(callCtx(t), &pb.GetRandomRequest{Pool: "p"})
	if err != nil {
		t.Fatal(err)
	}
	px.Cut()
	resp, err := c.ReportFailure(callCtx(t), &pb.ReportFailureRequest{Pool: "p",
		Key: &pb.ReportFailureRequest_LeaseId{LeaseId: got.GetLease().GetLeaseId()}, HttpStatus: 429})
	if err != nil || !resp.GetQueued() {
		t.Fatalf("report during the cut = %v, %v; want queued", resp, err)
	}
	px.Restore()
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if n := b.Service().PendingReports(); n != 0 {
		t.Fatalf("%d reports still pending after shutdown", n)
	}
	if st := rs.Client().HGet(context.Background(), "kb:{p}:k:"+id, "st").Val(); st != string(store.CoolingDown) {
		t.Fatalf("key state after shutdown = %q, want %q (the queued report applied)", st, store.CoolingDown)
	}
}
