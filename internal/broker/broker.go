// Package broker assembles a keybroker: Redis (through store.Open, or the
// embedded store), the broker key, the key store, the in-memory view, the
// gRPC service and server, the validation worker, health and metrics, and
// runs them with one explicit shutdown sequence (see Run). Every command,
// test harness and the bench build their broker here, so that what they
// run is what `keybroker serve` runs.
package broker

import (
	"context"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"golang.org/x/net/netutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/keybroker/keybroker/internal/auth"
	"github.com/keybroker/keybroker/internal/budget"
	"github.com/keybroker/keybroker/internal/buildinfo"
	"github.com/keybroker/keybroker/internal/config"
	"github.com/keybroker/keybroker/internal/lease"
	"github.com/keybroker/keybroker/internal/metrics"
	"github.com/keybroker/keybroker/internal/seal"
	"github.com/keybroker/keybroker/internal/secret"
	"github.com/keybroker/keybroker/internal/statuspage"
	"github.com/keybroker/keybroker/internal/store"
	"github.com/keybroker/keybroker/internal/view"
	"github.com/keybroker/keybroker/server"
	"github.com/keybroker/keybroker/worker"
)

// Selection sources: where GetRandom picks keys.
const (
	// SelectMemory picks from the in-memory view of every pool, which
	// follows Redis (the default).
	SelectMemory = "memory"
	// SelectRedis asks Redis on every call (one SRANDMEMBER, see
	// store.Picker).
	SelectRedis = "redis"
)

// Labels under which the broker key derives its sub-keys. Every replica
// of a deployment derives the same ones from the same broker key, so key
// ids and lease ids mean the same everywhere.
const (
	labelKeyID = "key-id"
	labelLease = "lease"
)

// Policies gives the effective policy of a pool: *config.Config, or
// *config.Live for a policy file that reloads.
type Policies interface {
	Pool(name string) config.Pool
}

// Config says what to build. Its zero value is a broker on the embedded
// store that serves nothing; set Listen to serve gRPC. Durations left zero
// take the defaults of `keybroker serve`.
type Config struct {
	// Redis says where the keys live. With no address the broker runs on an
	// embedded in-process store that loses everything when it stops.
	Redis store.RedisConfig
	// Keyring seals secrets (and the broker key) at rest; nil stores them
	// as they are.
	Keyring *seal.Keyring
	// Policies are the pool policies; nil: config.Default().
	Policies Policies
	// Logger receives every component's log; nil discards.
	Logger *slog.Logger

	// Listen is the gRPC address, host:port or unix:/path; "" serves no
	// gRPC (a worker-only process). With it come the service, the view,
	// the wake loop and the failure-report replay.
	Listen string
	// UnixSocketMode is the permission of a unix: socket (default 0660).
	UnixSocketMode os.FileMode
	// GRPC holds the transport settings (reflection, auth, TLS, tracing);
	// the broker adds its own metrics. Zero: server.DefaultGRPCConfig().
	GRPC *server.GRPCConfig
	// MetricsAddr serves /metrics, /healthz and /readyz over plain HTTP;
	// "" turns that off. /metrics has no authentication: keep it on
	// loopback or behind a network policy.
	MetricsAddr string
	// ProbeAddr serves only /healthz and /readyz over plain HTTP, for
	// probes that must reach the process while /metrics stays on loopback;
	// "" turns that off.
	ProbeAddr string
	// MaxConnections bounds the gRPC connections open at once (further
	// ones wait to be accepted); 0: no bound.
	MaxConnections int
	// ReportRate bounds how fast failure reports are taken; nil:
	// server.DefaultReportRate().
	ReportRate *server.ReportRate
	// AllowEviction starts on a Redis whose maxmemory-policy evicts keys
	// (with a loud warning); otherwise anything but noeviction is refused.
	// A Redis whose CONFIG cannot be read is a warning either way.
	AllowEviction bool
	// SealPlaintext reads secrets and a broker key stored before
	// encryption was turned on (and the broker key is sealed): the one-time
	// migration `keybroker rekey --seal-plaintext`. Otherwise, with a
	// Keyring, plaintext in Redis is refused.
	SealPlaintext bool

	// Selection is SelectMemory (default) or SelectRedis.
	Selection string
	// ResyncInterval and FlushInterval tune the in-memory view (defaults
	// 5m and 1s); FlushInterval also paces the per-call Redis picker's
	// writes of lease counts.
	ResyncInterval, FlushInterval time.Duration
	// MaxStaleness is how long the in-memory view keeps leasing (and health
	// stays SERVING) after Redis stops answering (default 1m).
	MaxStaleness time.Duration
	// ReportBuffer is how many failure reports are kept while Redis is out
	// of reach: 0 is server.DefaultReportBuffer, negative turns the buffer
	// off.
	ReportBuffer int
	// HealthInterval is how often Redis is pinged for health (default 2s).
	HealthInterval time.Duration
	// WakeInterval is how often cooled-down keys return to active in every
	// pool (default 1s).
	WakeInterval time.Duration
	// ShutdownTimeout bounds everything after the drain grace (default
	// 10s): the graceful stop of the gRPC server (calls still running are
	// cut), the last attempt at queued reports and the view's last flush.
	ShutdownTimeout time.Duration
	// DrainGrace is how long the broker keeps serving after health turns
	// NOT_SERVING on shutdown, so that load balancers and meshes polling
	// health notice before the listener closes; 0: none.
	DrainGrace time.Duration

	// KeysFile seeds keys at start (see keysfile); KeysPool is the pool of
	// lines that name none.
	KeysFile, KeysPool string
	// Worker runs the validation worker in this process; nil: off.
	Worker *WorkerConfig
	// Loops run alongside the broker until shutdown stops the background
	// loops (policy and certificate watchers, say).
	Loops []func(ctx context.Context)
	// Version is what keybroker_build_info, GetStatus and the status page
	// say this broker runs; zero: read from the binary's build info.
	Version buildinfo.Version
}

// WorkerConfig sets up the validation worker.
type WorkerConfig struct {
	// Name is the worker's name in the audit trail; "" is the host name.
	Name string
	// Concurrency bounds checks in flight across all pools (default 32).
	Concurrency int
	// Poll is how often each pool is looked at for due keys (default 250ms).
	Poll time.Duration
}

// Option adjusts a broker beyond its Config, for tests.
type Option func(*options)

type options struct {
	now      func() time.Time
	selector func(*store.Store) server.Selector
}

// WithClock replaces time.Now in the store, the view, the service and the
// worker, so tests can move time without sleeping.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithSelector serves GetRandom from the selector sel builds over the
// store, instead of the view or the store (Selection is then ignored).
func WithSelector(sel func(*store.Store) server.Selector) Option {
	return func(o *options) { o.selector = sel }
}

// Broker is an assembled keybroker. Build it with New, then Run it (which
// closes it) or Close it.
type Broker struct {
	cfg  Config
	opts options
	log  *slog.Logger

	embedded *embedded // nil on a real Redis
	conn     *store.Conn
	store    *store.Store
	metrics  *metrics.Metrics
	health   *health.Server
	contact  *server.StoreContact

	statusPage *lateHandler // the status page, once the store is open
	started    time.Time

	view    *view.View      // nil unless serving from memory
	budgets *budget.Tracker // nil without Listen
	picker  *store.Picker   // nil unless serving from Redis per call
	svc     *server.Service // nil without Listen
	grpc    *grpc.Server    // nil without Listen
	lis     net.Listener    // nil without Listen
	ops     *opsServer      // nil without MetricsAddr
	probes  *opsServer      // nil without ProbeAddr
	worker  *worker.Worker  // nil without Worker
	// workerName is the worker's name in the audit trail.
	workerName string

	draining chan struct{} // closed to end health Watch streams
	closed   bool
}

// New builds a broker: it opens Redis (or starts the embedded store),
// loads the broker key, seeds KeysFile, builds every component and opens
// the listeners, so that Addr answers once New returns. Nothing runs
// until Run. On error everything opened so far is closed.
func New(ctx context.Context, cfg Config, opts ...Option) (*Broker, error) {
	b := &Broker{cfg: withDefaults(cfg), metrics: metrics.New(), statusPage: &lateHandler{}, draining: make(chan struct{})}
	for _, o := range opts {
		o(&b.opts)
	}
	if b.opts.now == nil {
		b.opts.now = time.Now
	}
	b.contact = server.NewStoreContact(b.opts.now)
	b.log = b.cfg.Logger
	b.started = b.opts.now()
	v := b.cfg.Version
	b.metrics.SetBuildInfo(v.Version, v.Revision, v.GoVersion)
	if err := b.build(ctx); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

func withDefaults(cfg Config) Config {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Policies == nil {
		cfg.Policies = config.Default()
	}
	if cfg.Selection == "" {
		cfg.Selection = SelectMemory
	}
	if cfg.UnixSocketMode == 0 {
		cfg.UnixSocketMode = 0o660
	}
	if cfg.GRPC == nil {
		g := server.DefaultGRPCConfig()
		cfg.GRPC = &g
	}
	if cfg.ReportBuffer == 0 {
		cfg.ReportBuffer = server.DefaultReportBuffer
	}
	if cfg.Version.Version == "" {
		cfg.Version = buildinfo.Read("")
	}
	cfg.MaxStaleness = orDefault(cfg.MaxStaleness, time.Minute)
	cfg.HealthInterval = orDefault(cfg.HealthInterval, 2*time.Second)
	cfg.WakeInterval = orDefault(cfg.WakeInterval, time.Second)
	cfg.ShutdownTimeout = orDefault(cfg.ShutdownTimeout, 10*time.Second)
	return cfg
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// build assembles the components in dependency order. The listeners open
// first and the HTTP one serves at once, before Redis is waited for: a
// liveness probe finds the process up (/healthz) while readiness says not
// yet (/readyz 503, grpc.health NOT_SERVING), so a late Redis delays
// readiness instead of restarting the broker.
func (b *Broker) build(ctx context.Context) error {
	b.health = health.NewServer()
	b.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING) // until the first ping
	if err := b.listenFirst(); err != nil {
		return err
	}
	key, err := b.openStore(ctx)
	if err != nil {
		return err
	}
	if err := seedKeys(ctx, b.store, b.cfg.KeysFile, b.cfg.KeysPool, b.log); err != nil {
		return err
	}
	if b.cfg.Listen != "" {
		b.buildService(key)
	}
	if b.cfg.Worker != nil {
		b.worker = b.newWorker(*b.cfg.Worker)
	}
	b.metrics.WatchKeysWithPolicy(b.store, func(pool string) int { return b.cfg.Policies.Pool(pool).LowWater() }, 5*time.Second, b.log)
	b.metrics.Prepare(knownPools(ctx, b.store, b.cfg.Policies, b.log))
	if b.budgets != nil && b.view != nil {
		b.metrics.WatchBudgets(budgetGauges{b}, 5*time.Second)
	}
	if b.cfg.Listen != "" {
		b.statusPage.set(statuspage.New(b.store, b.cfg.Policies, b.statusSource(),
			statuspage.WithAuthSource(b.authPolicy), statuspage.WithLogger(b.log), statuspage.WithNotices(b.holdNotices),
			statuspage.WithBudgets(b.keyBudgets)).Handler())
	}
	return nil
}

// listenFirst opens the gRPC listener and starts serving probes, metrics
// and (once the store is open) the status page over HTTP.
func (b *Broker) listenFirst() error {
	if b.cfg.Listen != "" {
		lis, err := listen(b.cfg.Listen, b.cfg.UnixSocketMode)
		if err != nil {
			return err
		}
		if b.cfg.MaxConnections > 0 {
			lis = netutil.LimitListener(lis, b.cfg.MaxConnections)
		}
		b.lis = lis
	}
	if b.cfg.MetricsAddr != "" {
		h := server.HTTPHandler(b.health, b.metrics.Handler())
		if b.cfg.Listen != "" { // a worker-only process has no status page
			h = withStatusPage(h, b.statusPage)
		}
		ops, err := listenOps(b.cfg.MetricsAddr, h)
		if err != nil {
			return err
		}
		b.ops = ops
		ops.start()
	}
	if b.cfg.ProbeAddr != "" {
		probes, err := listenOps(b.cfg.ProbeAddr, server.HTTPHandler(b.health, nil))
		if err != nil {
			return err
		}
		b.probes = probes
		probes.start()
	}
	return nil
}

// openStore connects to Redis (or the embedded store), loads the broker
// key and builds the store; it returns the broker key.
func (b *Broker) openStore(ctx context.Context) ([]byte, error) {
	rc := b.cfg.Redis
	if len(rc.Addrs) == 0 {
		m, err := startEmbedded()
		if err != nil {
			return nil, err
		}
		b.embedded = m
		rc.Addrs, rc.MasterName = []string{m.URL}, ""
		b.log.Warn("no --redis given: running on the EMBEDDED in-memory store; every key and state is lost when this process stops. Set --redis (KEYBROKER_REDIS) for real use.")
	} else {
		b.log.Info("using redis", "addrs", redactedAddrs(rc.Addrs), "master_name", rc.MasterName)
	}
	// Every command Redis answers marks its pool (its slot, on a Cluster)
	// fresh; the health monitor probes each pool so idle ones stay current.
	rc.Hook, rc.Log, rc.Answered = b.metrics.RedisHook(), b.log, b.contact.AnsweredFor
	conn, err := store.Open(ctx, rc)
	if err != nil {
		return nil, err
	}
	b.conn = conn
	var keyOpts []store.BrokerKeyOption
	storeOpts := []store.Option{store.WithKeyring(b.cfg.Keyring), store.WithClock(b.opts.now)}
	if b.cfg.SealPlaintext {
		keyOpts = append(keyOpts, store.SealPlaintextBrokerKey())
		storeOpts = append(storeOpts, store.WithLegacyPlaintext())
	}
	key, err := conn.BrokerKey(ctx, b.cfg.Keyring, keyOpts...)
	if err != nil {
		return nil, err
	}
	if b.embedded == nil {
		if err := b.checkEviction(ctx); err != nil {
			return nil, err
		}
	}
	b.store = conn.Store(secret.NewIDs(secret.Derive(key, labelKeyID)), storeOpts...)
	return key, nil
}

// buildService builds the selector, the service and the gRPC server.
func (b *Broker) buildService(key []byte) {
	sel := b.selector()
	svcOpts := []server.Option{
		server.WithSelector(sel), server.WithPolicies(b.cfg.Policies), server.WithLogger(b.log),
		server.WithObserver(b.metrics), server.WithReportBuffer(max(b.cfg.ReportBuffer, 0)), server.WithClock(b.opts.now),
		server.WithStatus(b.statusSource()),
	}
	if b.cfg.ReportRate != nil {
		svcOpts = append(svcOpts, server.WithReportRate(*b.cfg.ReportRate))
	}
	if b.view != nil { // leases keep coming from memory during an outage, for a while
		svcOpts = append(svcOpts, server.WithStaleness(b.contact, b.cfg.MaxStaleness))
	}
	// Rate-limit budgets: in force for pools that declare limits or whose
	// callers report providers' headers (docs/budgets.md).
	b.budgets = budget.New(b.store, b.cfg.Policies, budget.WithLogger(b.log), budget.WithClock(b.opts.now))
	svcOpts = append(svcOpts, server.WithBudgets(b.budgets))
	b.svc = server.New(b.store, lease.NewSigner(secret.Derive(key, labelLease)), svcOpts...)
	b.metrics.WatchStoreContact(stalest{b.contact})
	b.metrics.WatchReportQueue(b.svc.PendingReports)

	gcfg := *b.cfg.GRPC
	gcfg.Metrics, gcfg.Draining = b.metrics.GRPC, b.draining
	b.grpc = server.NewGRPCServer(b.svc, b.health, b.log, gcfg)
}

// selector is GetRandom's selector: a test's, the store, or the view.
func (b *Broker) selector() server.Selector {
	switch {
	case b.opts.selector != nil:
		return b.opts.selector(b.store)
	case b.cfg.Selection == SelectRedis:
		b.picker = b.store.NewPicker()
		return b.picker
	}
	b.view = view.New(b.store, b.cfg.Policies, view.WithLogger(b.log), view.WithClock(b.opts.now),
		view.WithResyncInterval(orDefault(b.cfg.ResyncInterval, 5*time.Minute)),
		view.WithFlushInterval(orDefault(b.cfg.FlushInterval, time.Second)))
	return b.view
}

// newWorker builds the validation worker. Without a name it is named
// after the host, so the audit trail says which replica changed a key.
func (b *Broker) newWorker(wc WorkerConfig) *worker.Worker {
	if wc.Name == "" {
		wc.Name, _ = os.Hostname()
	}
	b.workerName = wc.Name
	opts := []worker.Option{
		worker.WithLogger(b.log), worker.WithName(wc.Name), worker.WithObserver(b.metrics), worker.WithClock(b.opts.now),
	}
	if wc.Concurrency > 0 {
		opts = append(opts, worker.WithConcurrency(wc.Concurrency))
	}
	if wc.Poll > 0 {
		opts = append(opts, worker.WithPollInterval(wc.Poll))
	}
	b.log.Info("validation worker running", "name", wc.Name, "concurrency", wc.Concurrency, "poll", wc.Poll)
	return worker.New(b.store, b.cfg.Policies, opts...)
}

// Addr is the gRPC listener's address ("" without Listen): the port a
// ":0" listener was given.
func (b *Broker) Addr() string {
	if b.lis == nil {
		return ""
	}
	return b.lis.Addr().String()
}

// MetricsAddr is the HTTP listener's address ("" without MetricsAddr).
func (b *Broker) MetricsAddr() string {
	if b.ops == nil {
		return ""
	}
	return b.ops.l.Addr().String()
}

// Store is the key store, for commands that work on it directly (rekey,
// the bench) and for tests.
func (b *Broker) Store() *store.Store { return b.store }

// Service is the gRPC service (nil without Listen).
func (b *Broker) Service() *server.Service { return b.svc }

// Health is the grpc.health.v1 server that Run keeps in step with Redis.
func (b *Broker) Health() *health.Server { return b.health }

// View is the in-memory view (nil unless GetRandom is served from it).
func (b *Broker) View() *view.View { return b.view }

// Embedded reports whether the broker runs on the embedded store.
func (b *Broker) Embedded() bool { return b.embedded != nil }

// Close releases what New opened without running anything: the
// listeners, Redis and the embedded store. Run closes the broker itself;
// Close after Run (or twice) does nothing.
func (b *Broker) Close() {
	if b.closed {
		return
	}
	b.closed = true
	if b.lis != nil {
		_ = b.lis.Close()
	}
	if b.ops != nil {
		_ = b.ops.srv.Close()
	}
	if b.probes != nil {
		_ = b.probes.srv.Close()
	}
	b.closeRedis()
}

// closeRedis closes the Redis connection, then the embedded store.
func (b *Broker) closeRedis() {
	if b.conn != nil {
		if err := b.conn.Close(); err != nil {
			b.log.Debug("close redis", "err", err)
		}
	}
	if b.embedded != nil {
		b.embedded.Close()
	}
}

// authPolicy is the authentication policy in force: the live source when
// the gRPC configuration has one, else its fixed policy.
func (b *Broker) authPolicy() *auth.Policy {
	if b.cfg.GRPC.AuthSource != nil {
		return b.cfg.GRPC.AuthSource.Current()
	}
	return b.cfg.GRPC.Auth
}

// redactedAddrs lists Redis addresses for the log, without credentials.
func redactedAddrs(addrs []string) string {
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = store.RedactURL(a)
	}
	return strings.Join(out, ",")
}

// stalest shows the view-age gauge the oldest answer of any pool, so a
// Cluster master that is down shows even while other nodes answer.
type stalest struct{ c *server.StoreContact }

func (s stalest) Since(now time.Time) time.Duration { return s.c.Stalest(now) }
