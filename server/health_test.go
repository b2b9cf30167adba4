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
	return resp.Status
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
