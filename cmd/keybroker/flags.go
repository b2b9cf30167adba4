package main

import (
	"flag"
	"fmt"
	"strings"
	"time"
)

// serveFlags are the settings of `keybroker serve`.
type serveFlags struct {
	listen          string
	redis           string
	redisMasterName string
	redisTimeout    time.Duration
	configPath      string
	keysFile        string
	pool            string
	logLevel        string
	logFormat       string
	shutdownTimeout time.Duration
	healthInterval  time.Duration
	wakeInterval    time.Duration
	reflection      bool
}

// envName turns a flag name into its environment variable.
func envName(flagName string) string {
	return "KEYBROKER_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseServeFlags reads flags, falling back to KEYBROKER_* variables and
// then to the defaults. A bad variable is an error naming it.
func parseServeFlags(args []string, getenv func(string) string, fs *flag.FlagSet) (*serveFlags, error) {
	f := &serveFlags{}
	fs.StringVar(&f.listen, "listen", "127.0.0.1:50051", "gRPC listen address: host:port, or unix:/path/to.sock")
	fs.StringVar(&f.redis, "redis", "", "Redis address(es), comma-separated host:port or redis:// URLs; one = single node, several = Cluster, with --redis-master-name = Sentinel. Empty: embedded in-memory store (nothing survives a restart)")
	fs.StringVar(&f.redisMasterName, "redis-master-name", "", "Sentinel master name; --redis then lists the sentinels")
	fs.DurationVar(&f.redisTimeout, "redis-timeout", time.Second, "Redis dial/read/write timeout; calls fail with UNAVAILABLE after it")
	fs.StringVar(&f.configPath, "config", "", "pool policy YAML file (see config/testdata/example.yaml); empty: built-in defaults")
	fs.StringVar(&f.keysFile, "keys-file", "", "seed keys at start from this file: one secret per line (into --pool) or pool<TAB>secret; idempotent")
	fs.StringVar(&f.pool, "pool", "", "pool for keys-file lines without a pool")
	fs.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	fs.DurationVar(&f.shutdownTimeout, "shutdown-timeout", 10*time.Second, "how long in-flight calls may finish after SIGINT/SIGTERM")
	fs.DurationVar(&f.healthInterval, "health-interval", 2*time.Second, "how often Redis is pinged for grpc.health.v1")
	fs.DurationVar(&f.wakeInterval, "wake-interval", time.Second, "how often cooled-down keys are returned to active in every pool")
	fs.BoolVar(&f.reflection, "reflection", true, "register gRPC server reflection (for grpcurl)")

	var envErr error
	fs.VisitAll(func(fl *flag.Flag) {
		name := envName(fl.Name)
		fl.Usage += " [$" + name + "]"
		v := getenv(name)
		if v == "" || envErr != nil {
			return
		}
		if err := fl.Value.Set(v); err != nil {
			envErr = fmt.Errorf("%s=%q: %w", name, v, err)
		}
	})
	if envErr != nil {
		return nil, envErr
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	return f, nil
}

func (f *serveFlags) redisAddrs() []string {
	var out []string
	for _, a := range strings.Split(f.redis, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}
