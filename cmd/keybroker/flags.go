package main

import (
	"flag"
	"fmt"
	"strings"
	"time"
)

// commonFlags are the settings `keybroker serve` and `keybroker worker`
// share: where Redis is, the pool policy, logging, and the worker's knobs.
type commonFlags struct {
	redis             string
	redisMasterName   string
	redisTimeout      time.Duration
	configPath        string
	logLevel          string
	logFormat         string
	workerConcurrency int
	workerPoll        time.Duration
	workerName        string
}

// serveFlags are the settings of `keybroker serve`.
type serveFlags struct {
	commonFlags
	listen          string
	keysFile        string
	pool            string
	shutdownTimeout time.Duration
	healthInterval  time.Duration
	wakeInterval    time.Duration
	reflection      bool
	worker          bool
}

// envName turns a flag name into its environment variable.
func envName(flagName string) string {
	return "KEYBROKER_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func (c *commonFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.redis, "redis", "", "Redis address(es), comma-separated host:port or redis:// URLs; one = single node, several = Cluster, with --redis-master-name = Sentinel. Empty: embedded in-memory store (serve only; nothing survives a restart)")
	fs.StringVar(&c.redisMasterName, "redis-master-name", "", "Sentinel master name; --redis then lists the sentinels")
	fs.DurationVar(&c.redisTimeout, "redis-timeout", time.Second, "Redis dial/read/write timeout; calls fail with UNAVAILABLE after it")
	fs.StringVar(&c.configPath, "config", "", "pool policy YAML file (see config/testdata/example.yaml); empty: built-in defaults")
	fs.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&c.logFormat, "log-format", "text", "log format: text or json")
	fs.IntVar(&c.workerConcurrency, "worker-concurrency", 32, "validation checks in flight at once across all pools (each pool also has its own validator.concurrency)")
	fs.DurationVar(&c.workerPoll, "worker-poll", 250*time.Millisecond, "how often the worker looks for due keys in each pool; bounds how long a suspect key waits")
	fs.StringVar(&c.workerName, "worker-name", "", "this worker's name in the audit trail (actor worker:<name>); empty: the host name")
}

func (f *serveFlags) register(fs *flag.FlagSet) {
	f.commonFlags.register(fs)
	fs.StringVar(&f.listen, "listen", "127.0.0.1:50051", "gRPC listen address: host:port, or unix:/path/to.sock")
	fs.StringVar(&f.keysFile, "keys-file", "", "seed keys at start from this file: one secret per line (into --pool) or pool<TAB>secret; idempotent")
	fs.StringVar(&f.pool, "pool", "", "pool for keys-file lines without a pool")
	fs.DurationVar(&f.shutdownTimeout, "shutdown-timeout", 10*time.Second, "how long in-flight calls may finish after SIGINT/SIGTERM")
	fs.DurationVar(&f.healthInterval, "health-interval", 2*time.Second, "how often Redis is pinged for grpc.health.v1")
	fs.DurationVar(&f.wakeInterval, "wake-interval", time.Second, "how often cooled-down keys are returned to active in every pool")
	fs.BoolVar(&f.reflection, "reflection", true, "register gRPC server reflection (for grpcurl)")
	fs.BoolVar(&f.worker, "worker", true, "run the validation worker in this process (--worker=false when `keybroker worker` runs elsewhere)")
}

// flagSet is a command's settings: they register their flags and check
// what no flag type catches; logging says how the command logs.
type flagSet interface {
	register(fs *flag.FlagSet)
	check() error
	logging() (level, format string)
}

// parseServeFlags reads the flags of `keybroker serve`, falling back to
// KEYBROKER_* variables and then to the defaults.
func parseServeFlags(args []string, getenv func(string) string, fs *flag.FlagSet) (*serveFlags, error) {
	f := &serveFlags{}
	return f, parseInto(f, args, getenv, fs)
}

// parseInto registers f's flags on fs, fills them from the environment and
// args, and checks them.
func parseInto(f flagSet, args []string, getenv func(string) string, fs *flag.FlagSet) error {
	f.register(fs)
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	return f.check()
}

// parseFlags fills fs from KEYBROKER_* variables, then from args, so flags
// win. A bad variable is an error naming it.
func parseFlags(fs *flag.FlagSet, args []string, getenv func(string) string) error {
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
		return envErr
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	return nil
}

func (c *commonFlags) logging() (level, format string) { return c.logLevel, c.logFormat }

// check rejects settings no flag type catches.
func (c *commonFlags) check() error {
	switch {
	case c.workerConcurrency < 1:
		return fmt.Errorf("--worker-concurrency %d: want at least 1", c.workerConcurrency)
	case c.workerPoll <= 0:
		return fmt.Errorf("--worker-poll %s: want a positive duration", c.workerPoll)
	}
	return nil
}

func (c *commonFlags) redisAddrs() []string {
	var out []string
	for _, a := range strings.Split(c.redis, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}
