package server

import (
	"context"
	"log/slog"
	"time"

	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
)

// StoreService is the grpc.health.v1 service name that follows the key
// store alone: NOT_SERVING whenever Redis does not answer, even while the
// broker still leases keys from memory.
const StoreService = "keybroker.store"

// HealthOption adjusts MonitorHealth.
type HealthOption func(*healthConfig)

type healthConfig struct {
	canServe func() bool
}

// WhileDegraded keeps the broker SERVING while the key store is out of
// reach for as long as canServe says leases are still served (an
// in-memory view within its staleness bound), so that a Redis blip does
// not pull every sidecar out of its load balancer. StoreService reports
// the outage regardless.
func WhileDegraded(canServe func() bool) HealthOption {
	return func(c *healthConfig) { c.canServe = canServe }
}

// MonitorHealth keeps grpc.health.v1 in step with the key store until ctx
// ends, checking at once and then every interval: StoreService follows
// ping; the whole server ("") and KeyBrokerService are SERVING while ping
// succeeds or, with WhileDegraded, while leases can still be served.
// Draining is signalled separately by hs.Shutdown, after which updates are
// ignored.
func MonitorHealth(ctx context.Context, hs *health.Server, ping func(context.Context) error, interval time.Duration, log *slog.Logger, opts ...HealthOption) {
	var cfg healthConfig
	for _, o := range opts {
		o(&cfg)
	}
	type status struct{ store, broker bool }
	last, first := status{}, true
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, max(interval, time.Second))
		err := ping(pctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		now := status{store: err == nil}
		now.broker = now.store || cfg.canServe != nil && cfg.canServe()
		if first || now != last {
			logHealth(ctx, log, now.store, now.broker, err)
			hs.SetServingStatus(StoreService, servingStatus(now.store))
			hs.SetServingStatus("", servingStatus(now.broker))
			hs.SetServingStatus(pb.KeyBrokerService_ServiceDesc.ServiceName, servingStatus(now.broker))
			last, first = now, false
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func servingStatus(ok bool) healthpb.HealthCheckResponse_ServingStatus {
	if ok {
		return healthpb.HealthCheckResponse_SERVING
	}
	return healthpb.HealthCheckResponse_NOT_SERVING
}

func logHealth(ctx context.Context, log *slog.Logger, store, broker bool, err error) {
	switch {
	case store:
		log.InfoContext(ctx, "key store reachable; health SERVING")
	case broker:
		log.WarnContext(ctx, "key store unreachable; DEGRADED: leasing from memory, admin calls fail; health SERVING, keybroker.store NOT_SERVING", "err", err)
	default:
		log.WarnContext(ctx, "key store unreachable; health NOT_SERVING", "err", err)
	}
}
