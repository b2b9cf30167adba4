package server

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	body, _ := io.ReadAll(rec.Body)
	return rec.Code, string(body)
}

func TestHTTPProbesFollowHealth(t *testing.T) {
	hs := health.NewServer()
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("keybroker_up 1\n")) })
	h := HTTPHandler(hs, metrics)

	hs.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	if code, _ := get(t, h, "/readyz"); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz while NOT_SERVING = %d", code)
	}
	if code, _ := get(t, h, "/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz = %d; liveness must not depend on Redis", code)
	}
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	if code, _ := get(t, h, "/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz while SERVING = %d", code)
	}
	hs.Shutdown() // draining
	if code, body := get(t, h, "/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "NOT_SERVING") {
		t.Fatalf("/readyz while draining = %d %q", code, body)
	}
	if code, body := get(t, h, "/metrics"); code != http.StatusOK || !strings.Contains(body, "keybroker_up") {
		t.Fatalf("/metrics = %d %q", code, body)
	}
	if code, _ := get(t, HTTPHandler(hs, nil), "/metrics"); code != http.StatusNotFound {
		t.Fatalf("/metrics without metrics = %d", code)
	}
}

// /readyz?pool=NAME follows that pool's health: a pool whose Cluster
// master is down answers 503 while the broker as a whole is ready.
func TestReadyzPerPool(t *testing.T) {
	hs := health.NewServer()
	h := HTTPHandler(hs, nil)
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus(PoolService("lost"), healthpb.HealthCheckResponse_NOT_SERVING)
	hs.SetServingStatus(PoolService("fine"), healthpb.HealthCheckResponse_SERVING)
	for path, want := range map[string]int{
		"/readyz":              http.StatusOK,
		"/readyz?pool=fine":    http.StatusOK,
		"/readyz?pool=lost":    http.StatusServiceUnavailable,
		"/readyz?pool=unknown": http.StatusOK, // not heard of yet: the broker's status
	} {
		if code, body := get(t, h, path); code != want {
			t.Errorf("GET %s = %d %q, want %d", path, code, body, want)
		}
	}
}
