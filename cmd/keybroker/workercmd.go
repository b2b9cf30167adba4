package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/keybroker/keybroker/internal/broker"
	"github.com/keybroker/keybroker/internal/config"
	"github.com/keybroker/keybroker/internal/seal"
	"github.com/keybroker/keybroker/internal/store"
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
	policies, err := config.NewLive(f.configPath, config.AllowEmpty(f.configAllowEmpty))
	if err != nil {
		return err
	}
	ring, err := loadKeyring(f.encryptionKeyFile, getenv)
	if err != nil {
		return err
	}
	cfg := f.brokerConfig(policies, ring, log)
	cfg.Loops = []func(context.Context){
		func(ctx context.Context) { policies.Watch(ctx, 5*time.Second, hangups(ctx), log) },
	}
	b, err := broker.New(ctx, cfg)
	if err != nil {
		return err
	}
	return b.Run(ctx)
}

// brokerConfig is the part of the broker's configuration that serve and
// worker share: Redis, waited for at start; the policies; the worker; the
// metrics listener.
func (c *commonFlags) brokerConfig(policies *config.Live, ring *seal.Keyring, log *slog.Logger) broker.Config {
	return broker.Config{
		Redis: store.RedisConfig{
			Addrs: c.addrs(), MasterName: c.redisMasterName, Timeout: c.redisTimeout, Wait: true,
		},
		Keyring:       ring,
		Policies:      policies,
		Logger:        log,
		MetricsAddr:   c.metricsAddr,
		ProbeAddr:     c.probeAddr,
		AllowEviction: c.allowEviction,
		Worker:        &broker.WorkerConfig{Name: c.workerName, Concurrency: c.workerConcurrency, Poll: c.workerPoll},
		Version:       binaryVersion(),
	}
}
