package server

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"time"

	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
)

// StoreService is the grpc.health.v1 service name that follows the key
// store alone: NOT_SERVING whenever Redis does not answer (for any pool
// the broker knows), even while the broker still leases keys from memory.
const StoreService = "keybroker.store"

// PoolService is the grpc.health.v1 service name that follows one pool:
// NOT_SERVING once GetRandom for it would refuse, because the Redis node
// holding its slot has not answered within the staleness bound (or, with
// no in-memory view, does not answer now). /readyz?pool=NAME reads it.
func PoolService(pool string) string { return "keybroker.pool/" + pool }

// HealthOption adjusts MonitorHealth.
type HealthOption func(*healthConfig)

type healthConfig struct {
	canServe func() bool
	pools    func() []string
	probe    func(context.Context, []string) map[string]error
	poolOK   func(pool string) bool
}

// WhileDegraded keeps the broker SERVING while the key store is out of
// reach for as long as canServe says leases are still served (an
// in-memory view within its staleness bound), so that a Redis blip does
// not pull every sidecar out of its load balancer. StoreService reports
// the outage regardless.
func WhileDegraded(canServe func() bool) HealthOption {
	return func(c *healthConfig) { c.canServe = canServe }
}

// PerPool makes health follow each pool apart, for Redis Cluster where
// one master can be down while the node answering PING is fine: every
// interval, probe reads each pool pools lists; a pool whose node does not
// answer turns StoreService NOT_SERVING at once, and its PoolService
// NOT_SERVING unless canServe(pool) still holds (its view within the
// staleness bound; nil: never). The whole broker stays SERVING while at
// least one pool can be served: every replica shares the dead slot, so
// pulling them all out of rotation would turn a one-pool outage into an
// outage of every pool.
func PerPool(pools func() []string, probe func(context.Context, []string) map[string]error, canServe func(pool string) bool) HealthOption {
	return func(c *healthConfig) { c.pools, c.probe, c.poolOK = pools, probe, canServe }
}

// healthState is one round's verdict.
type healthState struct {
	store, broker bool
	pools         map[string]bool // pool → servable
}

// MonitorHealth keeps grpc.health.v1 in step with the key store until ctx
// ends, checking at once and then every interval: StoreService follows
// ping (and, with PerPool, every pool's probe); the whole server ("") and
// KeyBrokerService are SERVING while ping succeeds or, with WhileDegraded,
// while leases can still be served. Draining is signalled separately by
// hs.Shutdown, after which updates are ignored.
func MonitorHealth(ctx context.Context, hs *health.Server, ping func(context.Context) error, interval time.Duration, log *slog.Logger, opts ...HealthOption) {
	var cfg healthConfig
	for _, o := range opts {
		o(&cfg)
	}
	var last healthState
	first := true
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, max(interval, time.Second))
		now, failed, err := cfg.round(pctx, ping)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if first || now.store != last.store || now.broker != last.broker {
			logHealth(ctx, log, now.store, now.broker, err, failed)
			hs.SetServingStatus(StoreService, servingStatus(now.store))
			hs.SetServingStatus("", servingStatus(now.broker))
			hs.SetServingStatus(pb.KeyBrokerService_ServiceDesc.ServiceName, servingStatus(now.broker))
		}
		for pool, ok := range now.pools {
			if was, seen := last.pools[pool]; first || !seen || was != ok {
				if !ok {
					log.WarnContext(ctx, "pool unreachable past its staleness bound; its health NOT_SERVING, GetRandom refuses", "pool", pool, "err", failed[pool])
				} else if seen {
					log.InfoContext(ctx, "pool reachable again; its health SERVING", "pool", pool)
				}
				hs.SetServingStatus(PoolService(pool), servingStatus(ok))
			}
		}
		last, first = now, false
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// round pings the store and probes the pools once. It returns the state,
// the pools whose probe failed with their causes, and the ping's error (for
// the log; a failed ping is part of the state, not a failure of round).
func (cfg *healthConfig) round(ctx context.Context, ping func(context.Context) error) (healthState, map[string]error, error) {
	err := ping(ctx)
	st := healthState{store: err == nil}
	degradedOK := cfg.canServe != nil && cfg.canServe()
	st.broker = st.store || degradedOK
	if cfg.probe == nil {
		return st, nil, err
	}
	names := cfg.pools()
	failed := cfg.probe(ctx, names)
	st.store = st.store && len(failed) == 0
	st.pools = make(map[string]bool, len(names))
	anyOK := false
	for _, p := range names {
		ok := failed[p] == nil || cfg.poolOK != nil && cfg.poolOK(p)
		st.pools[p] = ok
		anyOK = anyOK || ok
	}
	if len(names) > 0 {
		st.broker = anyOK
	}
	return st, failed, err
}

func servingStatus(ok bool) healthpb.HealthCheckResponse_ServingStatus {
	if ok {
		return healthpb.HealthCheckResponse_SERVING
	}
	return healthpb.HealthCheckResponse_NOT_SERVING
}

func logHealth(ctx context.Context, log *slog.Logger, store, broker bool, err error, failed map[string]error) {
	down := slices.Sorted(maps.Keys(failed))
	switch {
	case store:
		log.InfoContext(ctx, "key store reachable; health SERVING")
	case broker && len(down) > 0 && err == nil:
		log.WarnContext(ctx, "key store partly unreachable (the node of some pools is down); keybroker.store NOT_SERVING, those pools lease from memory until their staleness bound", "pools_unreachable", down)
	case broker:
		log.WarnContext(ctx, "key store unreachable; DEGRADED: leasing from memory, admin calls fail; health SERVING, keybroker.store NOT_SERVING", "err", err)
	default:
		log.WarnContext(ctx, "key store unreachable; health NOT_SERVING", "err", err, "pools_unreachable", down)
	}
}
