package worker

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keybroker/keybroker/internal/config"
	"github.com/keybroker/keybroker/internal/redistest"
	"github.com/keybroker/keybroker/internal/secret"
	"github.com/keybroker/keybroker/internal/store"
	"github.com/keybroker/keybroker/internal/testkit"
)

// env is one test's Redis, store and clock, and the log all its workers
// write to; at cleanup it fails the test if any secret it added is in it.
type env struct {
	t       testing.TB
	srv     *redistest.Server
	st      *store.Store
	clock   *testkit.Clock
	logs    *testkit.Buffer
	mu      sync.Mutex
	secrets []string
}

func newEnv(t testing.TB) *env {
	t.Helper()
	srv := redistest.Start(t)
	e := &env{t: t, srv: srv, clock: testkit.NewClock(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)), logs: &testkit.Buffer{}}
	e.st = store.New(srv.Client(), secret.NewIDs([]byte("worker-test")), store.WithClock(e.clock.Now))
	t.Cleanup(func() {
		logs := e.logs.String()
		e.mu.Lock()
		defer e.mu.Unlock()
		for _, s := range e.secrets {
			if strings.Contains(logs, s) {
				t.Errorf("a secret is in the log:\n%s", logs)
				return
			}
		}
	})
	return e
}

// add puts secrets into a pool and returns their key ids.
func (e *env) add(pool string, secrets ...string) []string {
	e.t.Helper()
	e.mu.Lock()
	e.secrets = append(e.secrets, secrets...)
	e.mu.Unlock()
	res, err := e.st.Add(context.Background(), pool, secrets)
	if err != nil {
		e.t.Fatal(err)
	}
	return res.KeyIDs
}

// secretsN makes n distinct secrets with a prefix.
func secretsN(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%05d-0123456789abcdef", prefix, i)
	}
	return out
}

// shortTimeout is the request timeout of tests whose fake hangs on purpose;
// others keep a timeout that a loaded machine never reaches.
const shortTimeout = config.Duration(300 * time.Millisecond)

// pool is a policy for a test pool against base: hourly intervals on the
// test clock, no waiting on the rate limit.
func pool(provider, kind, base string) config.Pool {
	p := config.Pool{BaseURL: base}
	p.Provider = providerOf(provider)
	p.Validator = config.Validator{Kind: kind, Interval: config.Duration(time.Hour), DisabledInterval: config.Duration(6 * time.Hour),
		RetryInterval: config.Duration(10 * time.Minute), Timeout: config.Duration(10 * time.Second), Jitter: 0.1,
		Concurrency: 8, RateLimit: 10_000}
	return p
}

// policies declares pools and returns a Config for them (each layered over
// the built-ins, like a file would be).
func policies(pools map[string]config.Pool) *config.Config {
	return &config.Config{Pools: pools}
}

// worker returns a Worker on the env's store, clock and log.
func (e *env) worker(pol Policies, opts ...Option) *Worker {
	log := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	base := []Option{WithClock(e.clock.Now), WithLogger(log), WithPollInterval(5 * time.Millisecond), WithPoolRefresh(20 * time.Millisecond)}
	return New(e.st, pol, append(base, opts...)...)
}

func (e *env) sweep(w *Worker) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.Sweep(ctx); err != nil {
		e.t.Fatal(err)
	}
}

// keys returns every key of a pool by id.
func (e *env) keys(pool string) map[string]store.Key {
	e.t.Helper()
	out := map[string]store.Key{}
	q := store.Query{Limit: 1000}
	for {
		page, err := e.st.List(context.Background(), pool, q)
		if err != nil {
			e.t.Fatal(err)
		}
		for _, k := range page.Keys {
			out[k.ID] = k
		}
		if !page.More {
			return out
		}
		q.After = page.Keys[len(page.Keys)-1].ID
	}
}

// keysIfUp is keys for polling while Redis may still refuse: nil on error.
func (e *env) keysIfUp(pool string) map[string]store.Key {
	page, err := e.st.List(context.Background(), pool, store.Query{Limit: 1000})
	if err != nil {
		return nil
	}
	out := map[string]store.Key{}
	for _, k := range page.Keys {
		out[k.ID] = k
	}
	return out
}

func (e *env) history(pool, id string) []store.AuditEntry {
	e.t.Helper()
	h, _, err := e.st.History(context.Background(), pool, store.HistoryQuery{KeyID: id, Limit: 100})
	if err != nil {
		e.t.Fatal(err)
	}
	return h
}

// waitLimit and poll are how long and how often tests wait on the
// worker's asynchronous work (testkit.Eventually); the limit only keeps a
// broken test from hanging.
const (
	waitLimit = 20 * time.Second
	poll      = 10 * time.Millisecond
)

// run starts w.Run and returns a stop function that waits for it.
func run(t *testing.T, w *Worker) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := w.Run(ctx); err != nil {
			t.Error(err)
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}
