package server

import (
	"context"
	"net/http"
	"time"

	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// HTTPHandler serves the operator's plain-HTTP endpoints: /metrics (when
// metrics is non-nil), /healthz (the process is up) and /readyz (200 while
// grpc.health.v1 says SERVING: Redis reachable and not draining; 503
// otherwise), for probes and load balancers that do not speak gRPC.
// /readyz?pool=NAME follows that pool alone (PoolService), for a Redis
// Cluster whose master holding the pool's slot is down; a pool health has
// not heard of yet falls back to the whole broker.
func HTTPHandler(hs *health.Server, metrics http.Handler) http.Handler {
	mux := http.NewServeMux()
	if metrics != nil {
		mux.Handle("GET /metrics", metrics)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n")) // a probe that hung up has its answer in the status
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), time.Second)
		defer cancel()
		resp, err := hs.Check(ctx, &healthpb.HealthCheckRequest{})
		if pool := r.URL.Query().Get("pool"); pool != "" {
			if pr, perr := hs.Check(ctx, &healthpb.HealthCheckRequest{Service: PoolService(pool)}); perr == nil {
				resp, err = pr, nil
			}
		}
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			http.Error(w, "not ready: "+resp.GetStatus().String(), http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	return mux
}
