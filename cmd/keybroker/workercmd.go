package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc/health"

	"github.com/keybroker/keybroker/internal/config"
	"github.com/keybroker/keybroker/internal/metrics"
	"github.com/keybroker/keybroker/internal/seal"
	"github.com/keybroker/keybroker/internal/secret"
	"github.com/keybroker/keybroker/internal/store"
	"github.com/keybroker/keybroker/server"
	"github.com/keybroker/keybroker/worker"
)

// workerCommand is `keybroker worker`: the validation worker alone, for
// deployments that run it apart from the gRPC replicas (which then run
// `serve --worker=false`). Any number may run against one Redis.
func workerCommand(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) int {
	f := &commonFlags{}
	return runDaemon("worker", f, args, getenv, stderr, func(log *slog.Logger) error {
		if err := runWorker(ctx, f, getenv, log); err != nil {
			return err
		}
		log.Info("stopped")
		return nil
	})
}

// runWorker checks keys until ctx ends (SIGINT, SIGTERM). Checks in flight
// are abandoned; their claims lapse and another worker takes the keys.
func runWorker(ctx context.Context, f *commonFlags, getenv func(string) string, log *slog.Logger) error {
	if len(f.addrs()) == 0 {
		return errors.New("--redis is required: the embedded store lives inside one `keybroker serve` process, which runs its own worker")
	}
	policies, err := config.NewLive(f.configPath)
	if err != nil {
		return err
	}
	ring, err := loadKeyring(f.encryptionKeyFile, getenv)
	if err != nil {
		return err
	}
	rdb, closeRedis, err := openRedis(&f.redisFlags, log)
	if err != nil {
		return err
	}
	defer closeRedis()
	key, err := waitForBrokerKey(ctx, rdb, ring, log)
	if err != nil {
		return err
	}
	if err := checkEviction(ctx, rdb, f.allowEviction, log); err != nil {
		return err
	}
	mx := metrics.New()
	rdb.AddHook(mx.RedisHook())
	st := newStore(rdb, key, ring)
	w := newWorker(st, policies, f, mx, log)
	hs := health.NewServer()
	ops, err := listenOps(f.metricsAddr, server.HTTPHandler(hs, mx.Handler()))
	if err != nil {
		return err
	}
	probes, err := listenOps(f.probeAddr, server.HTTPHandler(hs, nil))
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { policies.Watch(gctx, 5*time.Second, hangups(gctx), log); return nil })
	g.Go(func() error { server.MonitorHealth(gctx, hs, st.Ping, 2*time.Second, log); return nil })
	if ops != nil {
		g.Go(func() error { return serveOps(gctx, ops) })
	}
	if probes != nil {
		g.Go(func() error { return serveOps(gctx, probes) })
	}
	g.Go(func() error { return w.Run(gctx) })
	return g.Wait()
}

// newStore is the key store every command shares: key ids derive from the
// broker key, and secrets are sealed with ring when there is one.
func newStore(rdb redis.UniversalClient, brokerKey []byte, ring *seal.Keyring) *store.Store {
	return store.New(rdb, secret.NewIDs(secret.Derive(brokerKey, "key-id")), store.WithKeyring(ring))
}

// newWorker builds the validation worker from the shared flags. Without a
// --worker-name it is named after the host, so the audit trail says which
// replica changed a key.
func newWorker(st *store.Store, policies worker.Policies, f *commonFlags, obs worker.Observer, log *slog.Logger) *worker.Worker {
	name := f.workerName
	if name == "" {
		name, _ = os.Hostname()
	}
	log.Info("validation worker running", "name", name, "concurrency", f.workerConcurrency, "poll", f.workerPoll)
	return worker.New(st, policies,
		worker.WithLogger(log),
		worker.WithConcurrency(f.workerConcurrency),
		worker.WithPollInterval(f.workerPoll),
		worker.WithName(name),
		worker.WithObserver(obs),
	)
}
