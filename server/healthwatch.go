package server

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// drainableHealth is grpc.health.v1 whose Watch streams end when draining
// closes. grpc-go's health server keeps a Watch open until the client
// leaves, so GracefulStop would wait the whole shutdown timeout for every
// watcher (a mesh sidecar, a load balancer) and then cut it with a
// misleading WARN. Ending them first, after they have seen NOT_SERVING,
// lets the server stop as soon as real calls are done.
type drainableHealth struct {
	*health.Server
	draining <-chan struct{}
}

// Watch streams hs's updates until the client leaves or the server
// drains; a drained stream ends UNAVAILABLE, so the client watches
// another replica.
func (h drainableHealth) Watch(req *healthpb.HealthCheckRequest, stream healthpb.Health_WatchServer) error {
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	go func() {
		select {
		case <-h.draining:
			cancel()
		case <-ctx.Done():
		}
	}()
	err := h.Server.Watch(req, watchStream{stream, ctx})
	select {
	case <-h.draining:
		return status.Error(codes.Unavailable, "server draining; watch another replica")
	default:
		return err
	}
}

// watchStream is a Watch stream with a context that draining can end.
type watchStream struct {
	healthpb.Health_WatchServer
	ctx context.Context
}

func (w watchStream) Context() context.Context { return w.ctx }
