package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/keybroker/keybroker/internal/config"
	"github.com/keybroker/keybroker/internal/store"
)

// Store is what the worker needs of the key store. *store.Store is one.
type Store interface {
	Pools(ctx context.Context) ([]string, error)
	Schedule(ctx context.Context, pool string) (int, error)
	Claim(ctx context.Context, pool string, limit int, hold time.Duration) (store.Claims, error)
	Apply(ctx context.Context, pool, id string, c store.Check) (store.Transition, error)
	Purge(ctx context.Context, pool string, retention time.Duration) ([]string, error)
}

// Policies gives the effective policy of a pool. *config.Config is one.
type Policies interface {
	Pool(name string) config.Pool
}

// Worker checks the keys of every pool whose policy names a validator. It
// is safe to run any number of Workers (one per replica) against one Redis.
type Worker struct {
	store      Store
	policies   Policies
	client     *http.Client
	log        *slog.Logger
	now        func() time.Time
	jitter     func() float64
	slots      chan struct{} // checks in flight across all pools
	poll       time.Duration
	refresh    time.Duration
	purgeEvery time.Duration
	actor      string
	stats      counters
	observe    Observer

	mu    sync.Mutex
	pools map[string]cached
}

// cached is a pool's runner for the policy it was built from; a nil runner
// means the policy checks nothing.
type cached struct {
	policy config.Pool
	runner *poolRunner
}

// Option configures a Worker.
type Option func(*Worker)

// WithLogger sets the logger; the default discards.
func WithLogger(l *slog.Logger) Option { return func(w *Worker) { w.log = l } }

// WithClock replaces time.Now for billing dates and quota resets; give the
// Store the same clock.
func WithClock(now func() time.Time) Option { return func(w *Worker) { w.now = now } }

// WithHTTPClient sets the client upstream calls go through. Redirects are
// never followed whatever the client says: a key must not follow one to
// another host.
func WithHTTPClient(c *http.Client) Option { return func(w *Worker) { w.client = c } }

// WithConcurrency bounds the checks in flight across all pools (each pool
// has its own bound too). The default is 32.
func WithConcurrency(n int) Option {
	return func(w *Worker) {
		if n > 0 {
			w.slots = make(chan struct{}, n)
		}
	}
}

// WithPollInterval sets how often each pool is looked at for due keys when
// it had none. This is how fast a suspect key is picked up; the default is
// 250ms.
func WithPollInterval(d time.Duration) Option {
	return func(w *Worker) {
		if d > 0 {
			w.poll = d
		}
	}
}

// WithPoolRefresh sets how often Run looks for new pools (one SMEMBERS);
// the default is 1s.
func WithPoolRefresh(d time.Duration) Option {
	return func(w *Worker) {
		if d > 0 {
			w.refresh = d
		}
	}
}

// WithName names this worker in the audit trail ("worker:<name>"), so a
// change can be traced to a replica.
func WithName(name string) Option {
	return func(w *Worker) {
		if name != "" {
			w.actor = "worker:" + name
		}
	}
}

// withJitterSource replaces the random source of jitter (tests).
func withJitterSource(f func() float64) Option { return func(w *Worker) { w.jitter = f } }

// New returns a Worker over st that checks pools as policies say.
func New(st Store, policies Policies, opts ...Option) *Worker {
	w := &Worker{
		store:      st,
		policies:   policies,
		log:        slog.New(slog.DiscardHandler),
		now:        time.Now,
		jitter:     rand.Float64,
		slots:      make(chan struct{}, 32),
		poll:       250 * time.Millisecond,
		refresh:    time.Second,
		purgeEvery: time.Minute,
		actor:      "worker",
		pools:      map[string]cached{},
		observe:    nopObserver{},
	}
	for _, o := range opts {
		o(w)
	}
	if w.client == nil {
		w.client = defaultClient(cap(w.slots))
	}
	return w
}

// defaultClient keeps enough idle connections per host for every check in
// flight, so a sweep does not open and close a connection per key.
func defaultClient(conns int) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = max(t.MaxIdleConns, conns)
	t.MaxIdleConnsPerHost = conns
	return &http.Client{Transport: t}
}

// Run checks keys until ctx ends: every pool with a validator gets a loop
// that claims due keys, checks them and applies the results, and looks
// again every poll interval. Every refresh, Run finds new pools and
// restarts the loop of a pool whose policy changed (a reloaded
// configuration). Run returns nil when ctx ends; checks in flight are
// abandoned, and their claims lapse so another worker takes them.
func (w *Worker) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	t := time.NewTicker(w.refresh)
	defer t.Stop()
	loops := map[string]loop{}
	defer func() {
		for _, l := range loops {
			l.stop()
		}
	}()
	var purged time.Time
	for {
		names := w.startPools(ctx, &wg, loops)
		if now := time.Now(); names != nil && now.Sub(purged) >= w.purgeEvery {
			w.purge(ctx, names)
			purged = now
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// loop is a running pool loop: the runner it runs and how to stop it.
type loop struct {
	runner *poolRunner
	stop   context.CancelFunc
}

// startPools starts a loop for each checked pool that has none, and
// replaces the loop of a pool whose policy changed. It returns the pools
// it found, nil when it could not list them.
func (w *Worker) startPools(ctx context.Context, wg *sync.WaitGroup, loops map[string]loop) []string {
	names, err := w.store.Pools(ctx)
	if err != nil {
		if ctx.Err() == nil {
			w.log.WarnContext(ctx, "worker: list pools", "err", err)
		}
		return nil
	}
	for _, name := range names {
		p := w.runner(name)
		if l, ok := loops[name]; ok {
			if l.runner == p {
				continue
			}
			l.stop()
			w.log.InfoContext(ctx, "worker: pool policy changed", "pool", name, "checked", p != nil)
		}
		lctx, stop := context.WithCancel(ctx)
		loops[name] = loop{runner: p, stop: stop}
		if p != nil {
			wg.Go(func() { p.run(lctx) })
		}
	}
	if names == nil {
		names = []string{}
	}
	return names
}

// Sweep checks every key that is due now in every checked pool, including
// the keys that become due while it runs, and returns when none is left;
// then it purges keys quarantined for longer than their pool's retention. Tests, benchmarks and
// one-shot jobs use it; Run is the long-running form. Do not Sweep while
// the same Worker Runs.
func (w *Worker) Sweep(ctx context.Context) error {
	names, err := w.store.Pools(ctx)
	if err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	var errs []error
	for _, name := range names {
		if p := w.runner(name); p != nil {
			if err := p.sweep(ctx); err != nil {
				errs = append(errs, fmt.Errorf("sweep pool %q: %w", name, err))
			}
		}
	}
	w.purge(ctx, names)
	return errors.Join(errs...)
}

// runner returns the pool's runner for its current policy, building a new
// one when the policy changed, or nil when the pool is not checked.
func (w *Worker) runner(name string) *poolRunner {
	policy := w.policies.Pool(name)
	w.mu.Lock()
	defer w.mu.Unlock()
	if c, ok := w.pools[name]; ok && c.policy.Equal(policy) {
		return c.runner
	}
	p, err := newPoolRunner(w, name, policy)
	if err != nil {
		w.log.Error("worker: pool not checked", "pool", name, "err", err)
	}
	w.pools[name] = cached{policy: policy, runner: p}
	return p
}

// Stats returns the worker's counters so far.
func (w *Worker) Stats() Stats { return w.stats.snapshot() }
