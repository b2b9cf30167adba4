package broker_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/broker"
	"github.com/keybroker/keybroker/internal/config"
	"github.com/keybroker/keybroker/internal/redistest"
	"github.com/keybroker/keybroker/internal/store"
	"github.com/keybroker/keybroker/internal/testkit"
	"github.com/keybroker/keybroker/server"
)

// wait bounds every wait of these tests. It is generous on purpose: a
// shutdown that hangs fails the test instead of passing; nothing here
// judges how long a step took.
const wait = 30 * time.Second

// run runs b until the returned stop is called; stop returns Run's error,
// failing the test if Run does not return.
func run(t *testing.T, b *broker.Broker) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- b.Run(ctx) }()
	return func() error {
		t.Helper()
		cancel()
		select {
		case err := <-ran:
			return err
		case <-time.After(wait):
			t.Fatal("Run did not return after its context ended")
			return nil
		}
	}
}

// startHTTP builds and runs a broker serving gRPC and its HTTP port
// (status page, /metrics) on loopback, stopped at cleanup, where Run must
// return nil.
func startHTTP(t *testing.T, cfg broker.Config) *broker.Broker {
	t.Helper()
	cfg.Listen, cfg.MetricsAddr = "127.0.0.1:0", "127.0.0.1:0"
	b, err := broker.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, b)
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return b
}

// policyOf loads a policy file written with text.
func policyOf(t *testing.T, text string) *config.Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pools.yaml")
	writeFile(t, path, text)
	pols, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return pols
}

func dial(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func callCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return ctx
}

// With no Redis address the broker runs on the embedded store, and serves
// the API over it as it would over Redis.
func TestNewWithoutRedisRunsTheEmbeddedStore(t *testing.T) {
	b, err := broker.New(t.Context(), broker.Config{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, b)
	if !b.Embedded() {
		t.Fatal("Embedded() = false with no Redis address")
	}
	c := pb.NewKeyBrokerServiceClient(dial(t, b.Addr()))
	if _, err := c.Add(callCtx(t), &pb.AddRequest{Pool: "p", Secrets: []string{"sk-embedded-0123456789"}}); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetRandom(callCtx(t), &pb.GetRandomRequest{Pool: "p"})
	if err != nil || got.GetSecret() != "sk-embedded-0123456789" {
		t.Fatalf("GetRandom = %v, %v", got, err)
	}
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// Shutdown runs in order: health turns NOT_SERVING while a call is still
// in flight; the call, stuck past ShutdownTimeout, is cut and Run returns;
// the leases counted in memory reach Redis (the view's final flush; the
// periodic flush is an hour away); then Redis is closed.
func TestRunShutsDownInOrder(t *testing.T) {
	rs := redistest.Start(t)
	b, c, hc, id, stop := startServing(t, broker.Config{
		Redis:           store.RedisConfig{Addrs: []string{rs.Addr}},
		FlushInterval:   time.Hour,
		ShutdownTimeout: 100 * time.Millisecond,
	})
	for range 3 {
		if _, err := c.GetRandom(callCtx(t), &pb.GetRandomRequest{Pool: "p"}); err != nil {
			t.Fatal(err)
		}
	}
	// A call that never finishes on its own: a health Watch stream, which
	// the server holds open until it is stopped.
	watch, err := hc.Watch(callCtx(t), &healthpb.HealthCheckRequest{Service: server.StoreService})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := watch.Recv(); err != nil {
		t.Fatal(err)
	}

	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	testkit.Eventually(t, wait, 5*time.Millisecond, "health turns NOT_SERVING while draining", func() bool {
		resp, err := b.Health().Check(context.Background(), &healthpb.HealthCheckRequest{})
		return err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_NOT_SERVING
	})
	if err := <-stopped; err != nil {
		t.Fatalf("Run: %v", err)
	}
	for {
		_, err := watch.Recv()
		if errors.Is(err, io.EOF) {
			t.Fatal("the in-flight stream ended normally; want it cut after ShutdownTimeout")
		}
		if err != nil {
			if status.Code(err) != codes.Unavailable {
				t.Fatalf("the in-flight stream ended with %v, want UNAVAILABLE (cut)", err)
			}
			break
		}
	}
	if err := b.Store().Ping(context.Background()); !store.IsUnavailable(err) {
		t.Fatalf("Ping after Run = %v, want the closed client's unavailable error", err)
	}
	if n := leases(t, rs.Addr, "p", id); n != 3 {
		t.Fatalf("Redis holds %d leases of the key after shutdown, want 3 (the view's final flush)", n)
	}
}

// A worker-only broker (no Listen) has no address and no service, and
// stops when its context ends.
func TestWorkerOnlyBroker(t *testing.T) {
	rs := redistest.Start(t)
	b, err := broker.New(t.Context(), broker.Config{
		Redis:  store.RedisConfig{Addrs: []string{rs.Addr}},
		Worker: &broker.WorkerConfig{Name: "t"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if b.Addr() != "" || b.Service() != nil || b.View() != nil {
		t.Fatalf("worker-only broker serves: addr %q, service %v, view %v", b.Addr(), b.Service(), b.View())
	}
	stop := run(t, b)
	testkit.Eventually(t, wait, 5*time.Millisecond, "health follows Redis", func() bool {
		resp, err := b.Health().Check(context.Background(), &healthpb.HealthCheckRequest{Service: server.StoreService})
		return err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING
	})
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// Replicas built on one Redis share the broker key: a key id and a lease
// from one are understood by the other.
func TestReplicasShareTheBrokerKey(t *testing.T) {
	rs := redistest.Start(t)
	open := func() *broker.Broker {
		b, err := broker.New(t.Context(), broker.Config{Redis: store.RedisConfig{Addrs: []string{rs.Addr}}, Listen: "127.0.0.1:0", Selection: broker.SelectRedis})
		if err != nil {
			t.Fatal(err)
		}
		stop := run(t, b)
		t.Cleanup(func() { _ = stop() })
		return b
	}
	a, b := open(), open()
	ca, cb := pb.NewKeyBrokerServiceClient(dial(t, a.Addr())), pb.NewKeyBrokerServiceClient(dial(t, b.Addr()))
	added, err := ca.Add(callCtx(t), &pb.AddRequest{Pool: "p", Secrets: []string{"sk-shared-0123456789"}})
	if err != nil {
		t.Fatal(err)
	}
	if id := b.Store().KeyID("sk-shared-0123456789"); id != added.GetKeyIds()[0] {
		t.Fatalf("replica b derives key id %s, a %s", id, added.GetKeyIds()[0])
	}
	leased, err := ca.GetRandom(callCtx(t), &pb.GetRandomRequest{Pool: "p"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cb.ReportFailure(callCtx(t), &pb.ReportFailureRequest{Pool: "p",
		Key: &pb.ReportFailureRequest_LeaseId{LeaseId: leased.GetLease().GetLeaseId()}, HttpStatus: 500})
	if err != nil {
		t.Fatalf("replica b refuses replica a's lease: %v", err)
	}
}

// A keys file is seeded at start, idempotently.
func TestNewSeedsTheKeysFile(t *testing.T) {
	path := t.TempDir() + "/keys.txt"
	writeFile(t, path, "sk-seeded-0123456789\nother\tsk-seeded-other-0123456789\n")
	b, err := broker.New(t.Context(), broker.Config{KeysFile: path, KeysPool: "main"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for pool, want := range map[string]int{"main": 1, "other": 1} {
		page, err := b.Store().List(t.Context(), pool, store.Query{Limit: 10})
		if err != nil || len(page.Keys) != want {
			t.Fatalf("pool %s: %d keys (%v), want %d", pool, len(page.Keys), err, want)
		}
	}
}

func leases(t *testing.T, addr, pool, id string) int64 {
	t.Helper()
	b, err := broker.New(t.Context(), broker.Config{Redis: store.RedisConfig{Addrs: []string{addr}}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	page, err := b.Store().List(t.Context(), pool, store.Query{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range page.Keys {
		if k.ID == id {
			return k.Leases
		}
	}
	t.Fatalf("key %s not in pool %s", id, pool)
	return 0
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
