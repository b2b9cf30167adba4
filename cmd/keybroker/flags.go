package main

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/keybroker/keybroker/server"
)

// redisFlags say how to reach Redis and how secrets are sealed in it;
// serve, worker and rekey share them.
type redisFlags struct {
	redis             string
	redisMasterName   string
	redisTimeout      time.Duration
	encryptionKeyFile string
	allowEviction     bool
}

func (r *redisFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&r.redis, "redis", "", "Redis address(es), comma-separated host:port or redis:// URLs; one = single node, several = Cluster, with --redis-master-name = Sentinel. Empty: embedded in-memory store (serve only; nothing survives a restart)")
	fs.StringVar(&r.redisMasterName, "redis-master-name", "", "Sentinel master name; --redis then lists the sentinels")
	fs.DurationVar(&r.redisTimeout, "redis-timeout", time.Second, "Redis dial/read/write timeout; calls fail with UNAVAILABLE after it")
	fs.BoolVar(&r.allowEviction, "allow-redis-eviction", false, "start even if Redis's maxmemory-policy evicts keys (it may then drop the broker key or pool indexes); the default refuses anything but noeviction")
	fs.StringVar(&r.encryptionKeyFile, "encryption-key-file", "", "data keys sealing secrets at rest, one ID=BASE64 per line, first is primary (keybroker genkey); or the keys themselves in $KEYBROKER_ENCRYPTION_KEYS")
}

func (r *redisFlags) addrs() []string {
	var out []string
	for _, a := range strings.Split(r.redis, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// commonFlags are the settings `keybroker serve` and `keybroker worker`
// share: Redis, the pool policy, logging, and the worker's knobs.
type commonFlags struct {
	redisFlags
	configPath        string
	configAllowEmpty  bool
	logLevel          string
	logFormat         string
	workerConcurrency int
	workerPoll        time.Duration
	workerName        string
	metricsAddr       string
	probeAddr         string
}

func (c *commonFlags) register(fs *flag.FlagSet) {
	c.redisFlags.register(fs)
	fs.StringVar(&c.configPath, "config", "", "pool policy YAML file (see docs/configuration.md); empty: built-in defaults")
	fs.BoolVar(&c.configAllowEmpty, "config-allow-empty", false, "let a reload of --config replace a policy that declares pools with one that declares none (otherwise refused with a WARN until SIGHUP)")
	fs.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&c.logFormat, "log-format", "text", "log format: text or json")
	fs.IntVar(&c.workerConcurrency, "worker-concurrency", 32, "validation checks in flight at once across all pools (each pool also has its own validator.concurrency)")
	fs.DurationVar(&c.workerPoll, "worker-poll", 250*time.Millisecond, "how often the worker looks for due keys in each pool; bounds how long a suspect key waits")
	fs.StringVar(&c.workerName, "worker-name", "", "this worker's name in the audit trail (actor worker:<name>); empty: the host name")
	fs.StringVar(&c.metricsAddr, "metrics-addr", "", "serve /metrics, /healthz, /readyz and the /status page (admin token when auth is on) over plain HTTP on this host:port; empty: off")
	fs.StringVar(&c.probeAddr, "probe-addr", "", "serve only /healthz and /readyz over plain HTTP on this host:port, for kubelet probes while /metrics stays on loopback; empty: off")
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

// serveFlags are the settings of `keybroker serve`.
type serveFlags struct {
	commonFlags
	listen          string
	unixSocketMode  fileMode
	keysFile        string
	pool            string
	drainGrace      time.Duration
	shutdownTimeout time.Duration
	selection       selectionFlags
	healthInterval  time.Duration
	wakeInterval    time.Duration
	reflection      bool
	authFile        string
	tlsCert         string
	tlsKey          string
	tlsClientCA     string
	tlsReload       time.Duration
	insecure        bool
	configReload    time.Duration
	worker          bool
	reportBuffer    int
	maxStaleness    time.Duration
	maxConnections  int
	maxStreams      uint
	reportRate      float64
	reportRateKey   float64
	requireRedis    bool
}

func (f *serveFlags) register(fs *flag.FlagSet) {
	f.commonFlags.register(fs)
	f.unixSocketMode = 0o660
	fs.StringVar(&f.listen, "listen", "127.0.0.1:50051", "gRPC listen address: host:port, or unix:/path/to.sock")
	fs.Var(&f.unixSocketMode, "unix-socket-mode", "permissions of a unix: listen socket, `octal`")
	fs.StringVar(&f.keysFile, "keys-file", "", "seed keys at start from this file: one secret per line (into --pool) or pool<TAB>secret; idempotent")
	fs.StringVar(&f.pool, "pool", "", "pool for keys-file lines without a pool")
	fs.DurationVar(&f.shutdownTimeout, "shutdown-timeout", 10*time.Second, "after the drain grace, how long in-flight calls and the last writes to Redis may take; then the process exits")
	fs.DurationVar(&f.drainGrace, "drain-grace", 2*time.Second, "on SIGINT/SIGTERM, how long to keep serving with health NOT_SERVING so load balancers notice before the listener closes; 0: none")
	f.selection.register(fs)
	fs.DurationVar(&f.healthInterval, "health-interval", 2*time.Second, "how often Redis is pinged for grpc.health.v1")
	fs.DurationVar(&f.wakeInterval, "wake-interval", time.Second, "how often cooled-down keys are returned to active in every pool")
	fs.BoolVar(&f.reflection, "reflection", true, "register gRPC server reflection (for grpcurl)")
	fs.StringVar(&f.authFile, "auth-file", "", "who may call what: tokens (as SHA-256) and client-certificate rules, with roles and pools; reloaded when it changes (revoking a token needs no restart); $KEYBROKER_ADMIN_TOKEN and $KEYBROKER_CLIENT_TOKEN add tokens too")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "serve TLS with this certificate (PEM); reloaded when it changes")
	fs.StringVar(&f.tlsKey, "tls-key", "", "the TLS certificate's private key (PEM)")
	fs.StringVar(&f.tlsClientCA, "tls-client-ca", "", "verify client certificates against these CAs (PEM), for mTLS rules in --auth-file")
	fs.DurationVar(&f.tlsReload, "tls-reload-interval", 5*time.Second, "how often TLS files are checked for changes (SIGHUP reloads at once)")
	fs.BoolVar(&f.insecure, "insecure", false, "allow listening beyond loopback without authentication (never in production)")
	fs.DurationVar(&f.configReload, "config-reload-interval", 5*time.Second, "how often --config and --auth-file are checked for changes (SIGHUP reloads at once)")
	fs.DurationVar(&f.maxStaleness, "max-staleness", time.Minute, "with the in-memory view, how long GetRandom keeps leasing (and health stays SERVING) after Redis stops answering; then UNAVAILABLE")
	fs.IntVar(&f.reportBuffer, "report-buffer", server.DefaultReportBuffer, "failure reports kept in memory while Redis is unreachable, applied in order when it returns; 0: refuse them with UNAVAILABLE")
	fs.BoolVar(&f.requireRedis, "require-redis", false, "refuse to start when --redis is empty instead of running on the embedded in-memory store (set in the systemd unit, so an environment file without KEYBROKER_REDIS stops the unit)")
	fs.Float64Var(&f.reportRate, "report-rate", 100, "failure reports per second one caller (token, certificate, or address when auth is off) may send, bursts of twice that; 0: no limit")
	fs.Float64Var(&f.reportRateKey, "report-rate-per-key", 10, "failure reports per second about one key, from all callers, bursts of twice that; 0: no limit")
	fs.IntVar(&f.maxConnections, "max-connections", 1024, "most client connections open at once; more wait to be accepted (each costs the broker about 100 KB)")
	fs.UintVar(&f.maxStreams, "max-concurrent-streams", uint(server.DefaultMaxConcurrentStreams), "most calls in flight on one connection")
	fs.BoolVar(&f.worker, "worker", true, "run the validation worker in this process (--worker=false when keybroker worker runs elsewhere)")
}

// flagSet is a daemon's settings: they register their flags and check what
// no flag type catches; logging says how the daemon logs.
type flagSet interface {
	register(fs *flag.FlagSet)
	check() error
	logging() (level, format string)
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

// fileMode is an octal permission flag.
type fileMode uint32

func (m *fileMode) String() string { return fmt.Sprintf("%#o", uint32(*m)) }

func (m *fileMode) Set(s string) error {
	v, err := strconv.ParseUint(s, 8, 32)
	if err != nil || v > 0o777 {
		return fmt.Errorf("want octal permissions such as 0660")
	}
	*m = fileMode(v)
	return nil
}

// envName turns a flag name into its environment variable.
func envName(flagName string) string {
	return "KEYBROKER_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseFlags fills fs from KEYBROKER_* variables, then from args, so flags
// win. A bad variable is an error naming it. Daemons take no positional
// arguments.
func parseFlags(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	if err := fillFromEnv(fs, getenv, func(string) bool { return true }); err != nil {
		return err
	}
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("unexpected arguments: %q", rest)
	}
	return nil
}

// fillFromEnv sets each flag that allow accepts from its KEYBROKER_*
// variable, and says so in its usage. It is the one way every command
// reads the environment; the admin commands allow only their connection
// flags, so a KEYBROKER_POOL meant for serve never picks an admin
// command's pool.
func fillFromEnv(fs *flag.FlagSet, getenv func(string) string, allow func(name string) bool) error {
	var envErr error
	fs.VisitAll(func(fl *flag.Flag) {
		if !allow(fl.Name) {
			return
		}
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
	return envErr
}

// parseArgs parses flags wherever they stand among the positional
// arguments (`pools openai -o json`), which it returns in order. After
// "--" everything is positional.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(positional, rest...), nil
		}
		if len(rest) == 0 {
			return positional, nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// newFlagSet returns a flag set that reports errors to w and returns them.
func newFlagSet(name string, w io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(w)
	return fs
}

// reportRate is the ReportRate the flags ask for.
func (f *serveFlags) reportLimits() server.ReportRate {
	r := server.DefaultReportRate()
	r.PerCaller, r.CallerBurst = rate.Limit(f.reportRate), max(int(2*f.reportRate), 1)
	r.PerKey, r.KeyBurst = rate.Limit(f.reportRateKey), max(int(2*f.reportRateKey), 1)
	return r
}

// check rejects serve settings no flag type catches.
func (f *serveFlags) check() error {
	switch {
	case f.requireRedis && len(f.addrs()) == 0:
		return fmt.Errorf("--require-redis is set but --redis ($KEYBROKER_REDIS) is empty: refusing to run on the embedded in-memory store, where nothing survives a restart")
	case f.reportRate < 0 || f.reportRateKey < 0:
		return fmt.Errorf("--report-rate and --report-rate-per-key must not be negative")
	case f.maxConnections < 1:
		return fmt.Errorf("--max-connections %d: want at least 1", f.maxConnections)
	case f.maxStreams < 1 || f.maxStreams > 1<<20:
		return fmt.Errorf("--max-concurrent-streams %d: want 1 to %d", f.maxStreams, 1<<20)
	}
	return f.commonFlags.check()
}
