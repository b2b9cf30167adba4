package server_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/testkit"
	"github.com/keybroker/keybroker/server"
)

// TestRedisUnreachable stops Redis under a serving broker: every RPC but
// ReportFailure (whose reports are queued) fails fast with UNAVAILABLE from
// the handler, health turns NOT_SERVING, and both recover when Redis is
// back.
func TestRedisUnreachable(t *testing.T) {
	h := newHarness(t)
	const pool = "down-pool"
	id := h.add(t, pool, "sk-down-key-00001")[0]

	monitorCtx, stopMonitor := context.WithCancel(context.Background())
	monitorDone := make(chan struct{})
	go func() {
		defer close(monitorDone)
		server.MonitorHealth(monitorCtx, h.hs, h.store.Ping, 50*time.Millisecond, h.log)
	}()
	t.Cleanup(func() {
		stopMonitor()
		<-monitorDone
	})
	waitHealth(t, h, healthpb.HealthCheckResponse_SERVING)

	single := h.redis.Single(t)
	single.Stop()

	calls := []struct {
		name string
		call func(context.Context) error
	}{
		{"GetRandom", func(ctx context.Context) error {
			_, err := h.client.GetRandom(ctx, &pb.GetRandomRequest{Pool: pool})
			return err
		}},
		{"GetAll", func(ctx context.Context) error {
			_, err := h.client.GetAll(ctx, &pb.GetAllRequest{Pool: pool})
			return err
		}},
		{"Add", func(ctx context.Context) error {
			_, err := h.client.Add(ctx, &pb.AddRequest{Pool: pool, Secrets: []string{"sk-down-key-00002"}})
			return err
		}},
		{"Remove", func(ctx context.Context) error {
			_, err := h.client.Remove(ctx, &pb.RemoveRequest{Pool: pool, KeyIds: []string{id}})
			return err
		}},
	}
	// Twice: the first round may still find pooled connections, the second
	// finds none.
	for round := range 2 {
		for _, c := range calls {
			t.Run(fmt.Sprintf("%s/%d", c.name, round), func(t *testing.T) {
				// STORE_UNAVAILABLE proves the handler answered: a broker
				// that died would be UNAVAILABLE too, without it.
				d := wantReason(t, c.call(h.ctx(t)), codes.Unavailable, pb.ErrorReason_ERROR_REASON_STORE_UNAVAILABLE)
				if d.retry == nil || d.retry.GetRetryDelay().AsDuration() <= 0 {
					t.Errorf("RetryInfo %v, want a positive delay", d.retry)
				}
			})
		}
	}
	// Failure reports are not refused: they wait in the buffer
	// (reportqueue_test.go follows them until they land).
	resp, err := h.client.ReportFailure(h.ctx(t), &pb.ReportFailureRequest{Pool: pool, Key: &pb.ReportFailureRequest_KeyId{KeyId: id}, HttpStatus: 429})
	if err != nil || !resp.GetQueued() {
		t.Errorf("ReportFailure during the outage = %v, %v; want it queued", resp, err)
	}
	waitHealth(t, h, healthpb.HealthCheckResponse_NOT_SERVING)

	single.Restart() // empty, as a Redis that lost its memory
	waitHealth(t, h, healthpb.HealthCheckResponse_SERVING)

	newID := h.add(t, pool, "sk-down-key-00003")[0]
	got, err := h.client.GetRandom(h.ctx(t), &pb.GetRandomRequest{Pool: pool})
	if err != nil {
		t.Fatalf("GetRandom after Redis came back: %v", err)
	}
	if got.GetKeyId() != newID {
		t.Fatalf("leased %s, want %s", got.GetKeyId(), newID)
	}
}

// waitHealth polls grpc.health.v1 until both the server and the service
// report want.
func waitHealth(t *testing.T, h *harness, want healthpb.HealthCheckResponse_ServingStatus) {
	t.Helper()
	testkit.EventuallyWhy(t, 10*time.Second, 10*time.Millisecond, "health reports "+want.String(), func() (bool, string) {
		for _, svc := range []string{"", pb.KeyBrokerService_ServiceDesc.ServiceName} {
			ctx, cancel := context.WithTimeout(t.Context(), time.Second)
			resp, err := h.health.Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
			cancel()
			if err != nil {
				return false, fmt.Sprintf("Check(%q): %v", svc, err)
			}
			if resp.GetStatus() != want {
				return false, fmt.Sprintf("Check(%q) = %s, want %s", svc, resp.GetStatus(), want)
			}
		}
		return true, ""
	})
}
