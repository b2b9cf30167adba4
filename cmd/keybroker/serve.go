package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/net/netutil"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/keybroker/keybroker/internal/config"
	"github.com/keybroker/keybroker/internal/keysfile"
	"github.com/keybroker/keybroker/internal/lease"
	"github.com/keybroker/keybroker/internal/metrics"
	"github.com/keybroker/keybroker/internal/seal"
	"github.com/keybroker/keybroker/internal/secret"
	"github.com/keybroker/keybroker/internal/store"
	"github.com/keybroker/keybroker/internal/tracing"
	"github.com/keybroker/keybroker/server"
)

func serve(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) int {
	f := &serveFlags{}
	return runDaemon("serve", f, args, getenv, stderr, func(log *slog.Logger) error { return runServe(ctx, f, getenv, log) })
}

// runDaemon runs a long-lived subcommand the way each one runs: flags (and
// their KEYBROKER_* variables) into f, a logger as they say, then run. It
// returns the exit code: 0 when run returns nil or for -h, 2 for bad
// flags, 1 when run fails.
func runDaemon(name string, f flagSet, args []string, getenv func(string) string, stderr io.Writer, run func(*slog.Logger) error) int {
	err := parseInto(f, args, getenv, newFlagSet("keybroker "+name, stderr))
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "keybroker %s: %v\n", name, err)
		return 2
	}
	level, format := f.logging()
	log, err := newLogger(level, format, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "keybroker %s: %v\n", name, err)
		return 2
	}
	if err := run(log); err != nil {
		log.Error("keybroker "+name+" stopped", "err", err)
		return 1
	}
	return 0
}

func newLogger(level, format string, w io.Writer) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

// runServe wires the broker together and runs it until ctx ends (SIGINT,
// SIGTERM) or the listener fails, then drains: health turns NOT_SERVING at
// once, in-flight calls get --shutdown-timeout to finish.
func runServe(ctx context.Context, f *serveFlags, getenv func(string) string, log *slog.Logger) error {
	policies, err := config.NewLive(f.configPath)
	if err != nil {
		return err
	}
	sec, err := loadSecurity(f, getenv)
	if err != nil {
		return err
	}
	rdb, closeRedis, err := openRedis(&f.redisFlags, log)
	if err != nil {
		return err
	}
	defer closeRedis()
	mx := metrics.New()
	rdb.AddHook(mx.RedisHook())
	tracer, err := tracing.Setup(ctx, getenv, version)
	if err != nil {
		return err
	}
	defer flushTraces(tracer, log)

	key, err := waitForBrokerKey(ctx, rdb, sec.ring, log)
	if err != nil {
		return err
	}
	if len(f.addrs()) > 0 {
		if err := checkEviction(ctx, rdb, f.allowEviction, log); err != nil {
			return err
		}
	}
	sec.warn(log, len(f.addrs()) > 0)
	warnPlaintextTokens(log, f.listen, sec.policy.Enabled(), sec.tls != nil)
	st := newStore(rdb, key, sec.ring)
	if err := seedKeys(ctx, st, f.keysFile, f.pool, log); err != nil {
		return err
	}
	sel, vw := newSelector(f.selection, st, policies, log)
	contact := &server.StoreContact{}
	ping := func(ctx context.Context) error {
		err := st.Ping(ctx)
		if err == nil {
			contact.Answered(time.Now())
		}
		return err
	}
	var healthOpts []server.HealthOption
	svcOpts := []server.Option{server.WithSelector(sel)}
	if vw != nil { // leases keep coming from memory during an outage, for a while
		svcOpts = append(svcOpts, server.WithStaleness(contact, f.maxStaleness))
		healthOpts = append(healthOpts, server.WhileDegraded(func() bool { return contact.Fresh(time.Now(), f.maxStaleness) }))
	}
	mx.WatchStoreContact(contact)
	svcOpts = append(svcOpts, server.WithPolicies(policies), server.WithLogger(log), server.WithObserver(mx),
		server.WithReportBuffer(f.reportBuffer), server.WithReportRate(f.reportLimits()))
	svc := server.New(st, lease.NewSigner(secret.Derive(key, "lease")), svcOpts...)
	mx.WatchReportQueue(svc.PendingReports)
	mx.WatchKeys(st, 5*time.Second, log)

	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING) // until the first ping
	gcfg := server.DefaultGRPCConfig()
	gcfg.Reflection = f.reflection
	gcfg.MaxConcurrentStreams = uint32(f.maxStreams)
	gcfg.AuthSource = sec.auth
	gcfg.Metrics, gcfg.StatsHandler = mx.GRPC, tracer.Handler
	if sec.tls != nil {
		gcfg.Creds = credentials.NewTLS(sec.tls.ServerConfig())
	}
	gs := server.NewGRPCServer(svc, hs, log, gcfg)
	lis, err := listen(f.listen, os.FileMode(f.unixSocketMode))
	if err != nil {
		return err
	}
	lis = netutil.LimitListener(lis, f.maxConnections)
	opsSrv, err := listenOps(f.metricsAddr, server.HTTPHandler(hs, mx.Handler()))
	if err != nil {
		lis.Close()
		return err
	}
	probeSrv, err := listenOps(f.probeAddr, server.HTTPHandler(hs, nil))
	if err != nil {
		lis.Close()
		return err
	}
	log.Info("keybroker serving", "listen", lis.Addr().String(), "metrics", f.metricsAddr,
		"pools_configured", len(policies.Current().PoolNames()), "auth", sec.policy.Enabled(),
		"tls", sec.tls != nil, "encryption", sec.ring != nil, "tracing", tracer.Endpoint, "version", version)

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return gs.Serve(lis) })
	g.Go(func() error { server.MonitorHealth(gctx, hs, ping, f.healthInterval, log, healthOpts...); return nil })
	g.Go(func() error { wakeLoop(gctx, st, f.wakeInterval, log); return nil })
	g.Go(func() error { svc.ReplayReports(gctx, 500*time.Millisecond); return nil })
	if f.worker {
		w := newWorker(st, policies, &f.commonFlags, mx, log)
		g.Go(func() error { return w.Run(gctx) })
	} else {
		log.Info("validation worker off (--worker=false): run `keybroker worker` against the same Redis")
	}
	if vw != nil {
		g.Go(func() error { return vw.Run(gctx) })
	}
	if sec.tls != nil {
		g.Go(func() error { sec.tls.Watch(gctx, f.tlsReload, hangups(gctx), log); return nil })
	}
	g.Go(func() error { policies.Watch(gctx, f.configReload, hangups(gctx), log); return nil })
	g.Go(func() error { sec.auth.Watch(gctx, f.configReload, hangups(gctx), log); return nil })
	if opsSrv != nil {
		g.Go(func() error { return serveOps(gctx, opsSrv) })
	}
	if probeSrv != nil {
		g.Go(func() error { return serveOps(gctx, probeSrv) })
	}
	g.Go(func() error {
		<-gctx.Done()
		drain(hs, gs, f.shutdownTimeout, log)
		return nil
	})
	err = g.Wait()
	flushView(vw)
	return err
}

// openRedis connects to the configured Redis, or starts the embedded store
// when none is configured.
func openRedis(f *redisFlags, log *slog.Logger) (redis.UniversalClient, func(), error) {
	addrs := f.addrs()
	if len(addrs) == 0 {
		m, err := startEmbedded()
		if err != nil {
			return nil, nil, err
		}
		log.Warn("no --redis given: running on the EMBEDDED in-memory store; every key and state is lost when this process stops. Set --redis (KEYBROKER_REDIS) for real use.")
		rdb, err := store.Connect(store.RedisConfig{Addrs: []string{m.URL}, Timeout: f.redisTimeout})
		if err != nil {
			m.Close()
			return nil, nil, err
		}
		return rdb, func() { rdb.Close(); m.Close() }, nil
	}
	rdb, err := store.Connect(store.RedisConfig{Addrs: addrs, MasterName: f.redisMasterName, Timeout: f.redisTimeout})
	if err != nil {
		return nil, nil, err
	}
	shown := make([]string, len(addrs))
	for i, a := range addrs {
		shown[i] = store.RedactURL(a)
	}
	log.Info("using redis", "addrs", strings.Join(shown, ","), "master_name", f.redisMasterName)
	return rdb, func() { rdb.Close() }, nil
}

// waitForBrokerKey waits for Redis to answer, so that a broker started
// before its Redis comes up on its own instead of crash-looping, then loads
// the broker key; a key that ring cannot open is a start-up error.
func waitForBrokerKey(ctx context.Context, rdb redis.UniversalClient, ring *seal.Keyring, log *slog.Logger) ([]byte, error) {
	for attempt := 1; ; attempt++ {
		err := rdb.Ping(ctx).Err()
		if err == nil {
			return store.LoadBrokerKey(ctx, rdb, ring)
		}
		log.Warn("waiting for redis", "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("stopped while waiting for redis: %w", err)
		case <-time.After(min(time.Duration(attempt)*500*time.Millisecond, 5*time.Second)):
		}
	}
}

// seedKeys adds the keys of a keys file, like the seed's init step: keys
// already present are left as they are.
func seedKeys(ctx context.Context, st *store.Store, path, defaultPool string, log *slog.Logger) error {
	if path == "" {
		return nil
	}
	file, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("keys file: %w", err)
	}
	defer file.Close()
	batches, err := keysfile.Parse(file, defaultPool)
	if err != nil {
		return fmt.Errorf("keys file %s: %w", path, err)
	}
	for _, b := range batches {
		res, err := st.Add(ctx, b.Pool, b.Secrets)
		if err != nil {
			return fmt.Errorf("seed pool %q from %s: %w", b.Pool, path, err)
		}
		log.Info("seeded keys", "pool", b.Pool, "added", res.AddedCount(), "present", len(b.Secrets)-res.AddedCount())
	}
	return nil
}

// wakeLoop returns cooled-down keys to active in every pool on a timer, so
// states and change notifications are timely even for pools nobody reads.
func wakeLoop(ctx context.Context, st *store.Store, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pools, err := st.Pools(ctx)
		if err != nil {
			log.Debug("wake: list pools", "err", err)
			continue
		}
		for _, p := range pools {
			if err := st.Wake(ctx, p); err != nil {
				log.Debug("wake pool", "pool", p, "err", err)
			}
		}
	}
}

// drain stops the server gracefully: NOT_SERVING first so load balancers
// stop sending, then up to timeout for in-flight calls, then a hard stop.
func drain(hs *health.Server, gs *grpc.Server, timeout time.Duration, log *slog.Logger) {
	log.Info("draining", "timeout", timeout)
	hs.Shutdown()
	done := make(chan struct{})
	go func() { gs.GracefulStop(); close(done) }()
	select {
	case <-done:
		log.Info("stopped")
	case <-time.After(timeout):
		log.Warn("shutdown timeout reached; closing remaining calls")
		gs.Stop()
	}
}
