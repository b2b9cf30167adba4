package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"google.golang.org/grpc/credentials"

	"github.com/keybroker/keybroker/internal/broker"
	"github.com/keybroker/keybroker/internal/config"
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
	store.RouteRedisLogs(log) // go-redis's own lines follow --log-format too
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

// runServe builds the broker from the flags and runs it until ctx ends
// (SIGINT, SIGTERM) or a component fails; broker.Run documents the drain.
func runServe(ctx context.Context, f *serveFlags, getenv func(string) string, log *slog.Logger) error {
	policies, err := config.NewLive(f.configPath)
	if err != nil {
		return err
	}
	sec, err := loadSecurity(f, getenv)
	if err != nil {
		return err
	}
	tracer, err := tracing.Setup(ctx, getenv, binaryVersion().Version)
	if err != nil {
		return err
	}
	defer flushTraces(tracer, log)
	cfg := f.brokerConfig(policies, sec, tracer, log)
	b, err := broker.New(ctx, cfg)
	if err != nil {
		return err
	}
	sec.warn(log, !b.Embedded())
	warnPlaintextTokens(log, f.listen, sec.policy.Enabled(), sec.tls != nil)
	if !f.worker {
		log.Info("validation worker off (--worker=false): run `keybroker worker` against the same Redis")
	}
	log.Info("keybroker serving", "listen", b.Addr(), "metrics", f.metricsAddr,
		"pools_configured", len(policies.Current().PoolNames()), "auth", sec.policy.Enabled(),
		"tls", sec.tls != nil, "encryption", sec.ring != nil, "tracing", tracer.Endpoint, "version", binaryVersion().String())
	return b.Run(ctx)
}

// brokerConfig turns serve's flags into the broker's configuration.
func (f *serveFlags) brokerConfig(policies *config.Live, sec *security, tracer *tracing.Tracer, log *slog.Logger) broker.Config {
	gcfg := server.DefaultGRPCConfig()
	gcfg.Reflection = f.reflection
	gcfg.AuthSource = sec.auth
	gcfg.MaxConcurrentStreams = uint32(f.maxStreams)
	gcfg.StatsHandler = tracer.Handler
	if sec.tls != nil {
		gcfg.Creds = credentials.NewTLS(sec.tls.ServerConfig())
	}
	cfg := f.commonFlags.brokerConfig(policies, sec.ring, log)
	cfg.Listen, cfg.UnixSocketMode, cfg.GRPC = f.listen, os.FileMode(f.unixSocketMode), &gcfg
	cfg.Selection = string(f.selection.source)
	cfg.ResyncInterval, cfg.FlushInterval = f.selection.resyncEvery, f.selection.flushEvery
	cfg.MaxStaleness, cfg.ReportBuffer = f.maxStaleness, f.reportBuffer
	cfg.MaxConnections = f.maxConnections
	rate := f.reportLimits()
	cfg.ReportRate = &rate
	if f.reportBuffer == 0 {
		cfg.ReportBuffer = -1 // --report-buffer=0: refuse reports during an outage
	}
	cfg.HealthInterval, cfg.WakeInterval, cfg.ShutdownTimeout = f.healthInterval, f.wakeInterval, f.shutdownTimeout
	cfg.DrainGrace = f.drainGrace
	cfg.KeysFile, cfg.KeysPool = f.keysFile, f.pool
	if !f.worker {
		cfg.Worker = nil
	}
	cfg.Loops = []func(context.Context){
		func(ctx context.Context) { policies.Watch(ctx, f.configReload, hangups(ctx), log) },
		func(ctx context.Context) { sec.auth.Watch(ctx, f.configReload, hangups(ctx), log) },
	}
	if sec.tls != nil {
		cfg.Loops = append(cfg.Loops, func(ctx context.Context) { sec.tls.Watch(ctx, f.tlsReload, hangups(ctx), log) })
	}
	return cfg
}
