package server

import (
	"context"
	"log/slog"
	"time"

	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
)

// MonitorHealth keeps grpc.health.v1 in step with the key store until ctx
// ends: SERVING while ping succeeds, NOT_SERVING while it fails, for the
// whole server ("") and for KeyBrokerService. It checks once at once, then
// every interval. Draining is signalled separately by hs.Shutdown, after
// which updates are ignored.
func MonitorHealth(ctx context.Context, hs *health.Server, ping func(context.Context) error, interval time.Duration, log *slog.Logger) {
	last := healthpb.HealthCheckResponse_UNKNOWN
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, max(interval, time.Second))
		err := ping(pctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		st := healthpb.HealthCheckResponse_SERVING
		if err != nil {
			st = healthpb.HealthCheckResponse_NOT_SERVING
		}
		if st != last {
			if err != nil {
				log.WarnContext(ctx, "key store unreachable; health NOT_SERVING", "err", err)
			} else {
				log.InfoContext(ctx, "key store reachable; health SERVING")
			}
			hs.SetServingStatus("", st)
			hs.SetServingStatus(pb.KeyBrokerService_ServiceDesc.ServiceName, st)
			last = st
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
