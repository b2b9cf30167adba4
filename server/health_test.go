package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/keybroker/keybroker/internal/testkit"
)

func checkStatus(t *testing.T, hs *health.Server, service string) healthpb.HealthCheckResponse_ServingStatus {
	t.Helper()
	resp, err := hs.Check(context.Background(), &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		return healthpb.HealthCheckResponse_SERVICE_UNKNOWN // not set yet
	}
	return resp.GetStatus()
}

func waitStatus(t *testing.T, hs *health.Server, service string, want healthpb.HealthCheckResponse_ServingStatus) {
	t.Helper()
	testkit.Eventually(t, 10*time.Second, 5*time.Millisecond, fmt.Sprintf("health %q is %s", service, want), func() bool {
		return checkStatus(t, hs, service) == want
	})
}

// While Redis is down but leases are still served the broker says
// SERVING and keybroker.store says NOT_SERVING; once leases stop, both do.
func TestHealthReportsTheDegradedState(t *testing.T) {
	hs := health.NewServer()
	var up, canServe atomic.Bool
	up.Store(true)
	ping := func(context.Context) error {
		if up.Load() {
			return nil
		}
		return errors.New("connection refused")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go MonitorHealth(ctx, hs, ping, 5*time.Millisecond, slog.New(slog.DiscardHandler), WhileDegraded(canServe.Load))

	waitStatus(t, hs, StoreService, healthpb.HealthCheckResponse_SERVING)
	waitStatus(t, hs, "", healthpb.HealthCheckResponse_SERVING)

	canServe.Store(true)
	up.Store(false)
	waitStatus(t, hs, StoreService, healthpb.HealthCheckResponse_NOT_SERVING)
	if got := checkStatus(t, hs, ""); got != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("degraded broker reports %s, want SERVING", got)
	}
	canServe.Store(false)
	waitStatus(t, hs, "", healthpb.HealthCheckResponse_NOT_SERVING)
	waitStatus(t, hs, "keybroker.v1.KeyBrokerService", healthpb.HealthCheckResponse_NOT_SERVING)

	up.Store(true)
	waitStatus(t, hs, "", healthpb.HealthCheckResponse_SERVING)
	waitStatus(t, hs, StoreService, healthpb.HealthCheckResponse_SERVING)
}

func TestStoreContact(t *testing.T) {
	var c StoreContact
	now := time.Now()
	if c.Fresh(now, time.Hour) {
		t.Fatal("a store that never answered counts as fresh")
	}
	c.Answered(now.Add(-2 * time.Second))
	if !c.Fresh(now, 3*time.Second) || c.Fresh(now, time.Second) {
		t.Fatalf("Since = %v", c.Since(now))
	}
}

// On a Cluster one pool's master can be down while PING (to another node)
// succeeds: with PerPool, keybroker.store turns NOT_SERVING at once, the
// pool's own service once it can no longer be served, and the broker stays
// SERVING while another pool can be.
func TestHealthPerPool(t *testing.T) {
	hs := health.NewServer()
	var lostDown, lostServable atomic.Bool
	lostServable.Store(true)
	probe := func(_ context.Context, pools []string) map[string]error {
		if lostDown.Load() {
			return map[string]error{"lost": errors.New("dial tcp: connection refused")}
		}
		return nil
	}
	servable := func(pool string) bool { return pool != "lost" || lostServable.Load() }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ping := func(context.Context) error { return nil }
	go MonitorHealth(ctx, hs, ping, 5*time.Millisecond, slog.New(slog.DiscardHandler),
		PerPool(func() []string { return []string{"fine", "lost"} }, probe, servable))

	waitStatus(t, hs, PoolService("lost"), healthpb.HealthCheckResponse_SERVING)
	waitStatus(t, hs, StoreService, healthpb.HealthCheckResponse_SERVING)

	lostDown.Store(true)
	waitStatus(t, hs, StoreService, healthpb.HealthCheckResponse_NOT_SERVING)
	if got := checkStatus(t, hs, PoolService("lost")); got != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("pool within its staleness bound reports %s, want SERVING", got)
	}
	lostServable.Store(false)
	waitStatus(t, hs, PoolService("lost"), healthpb.HealthCheckResponse_NOT_SERVING)
	if got := checkStatus(t, hs, PoolService("fine")); got != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("pool on a live node reports %s", got)
	}
	if got := checkStatus(t, hs, ""); got != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("broker reports %s with one pool still served", got)
	}

	lostDown.Store(false)
	waitStatus(t, hs, PoolService("lost"), healthpb.HealthCheckResponse_SERVING)
	waitStatus(t, hs, StoreService, healthpb.HealthCheckResponse_SERVING)
}

func TestStoreContactPerPool(t *testing.T) {
	clock := time.Unix(1000, 0)
	c := NewStoreContact(func() time.Time { return clock })
	c.AnsweredFor("a")
	c.AnsweredFor("b")
	clock = clock.Add(5 * time.Second)
	c.AnsweredFor("b") // b's node answers; a's does not
	if c.PoolFresh("a", clock, 3*time.Second) || !c.PoolFresh("b", clock, 3*time.Second) {
		t.Fatalf("a %v, b %v", c.PoolSince("a", clock), c.PoolSince("b", clock))
	}
	if !c.Fresh(clock, time.Second) {
		t.Fatal("the store as a whole answered just now")
	}
	if got := c.Stalest(clock); got != 5*time.Second {
		t.Fatalf("Stalest = %v, want 5s (pool a)", got)
	}
	if !c.PoolFresh("never-seen", clock, time.Second) {
		t.Fatal("a pool never heard of should follow the store as a whole")
	}
}
