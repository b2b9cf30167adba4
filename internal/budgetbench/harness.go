package budgetbench

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc/health"

	"github.com/keybroker/keybroker/client"
	"github.com/keybroker/keybroker/internal/budget"
	"github.com/keybroker/keybroker/internal/config"
	"github.com/keybroker/keybroker/internal/lease"
	"github.com/keybroker/keybroker/internal/secret"
	"github.com/keybroker/keybroker/internal/store"
	"github.com/keybroker/keybroker/internal/view"
	"github.com/keybroker/keybroker/server"
)

// broker is one replica in this process, wired as serve wires it: store,
// in-memory view, budget tracker, service and the default gRPC server.
type broker struct {
	addr  string
	store *store.Store
	kb    *client.Client
}

// startBroker runs a replica over rdb until the test ends. now is the
// clock of the store, view, tracker and service.
func startBroker(tb testing.TB, rdb redis.UniversalClient, pol *config.Config, now func() time.Time, opts ...client.Option) *broker {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	key, err := store.LoadBrokerKey(ctx, rdb, nil)
	if err != nil {
		tb.Fatalf("broker key: %v", err)
	}
	log := slog.New(slog.DiscardHandler)
	st := store.New(rdb, secret.NewIDs(secret.Derive(key, "key-id")), store.WithClock(now))
	vw := view.New(st, pol, view.WithLogger(log), view.WithClock(now))
	tr := budget.New(st, pol, budget.WithClock(now), budget.WithLogger(log))
	svc := server.New(st, lease.NewSigner(secret.Derive(key, "lease")), server.WithPolicies(pol),
		server.WithSelector(vw), server.WithBudgets(tr), server.WithClock(now), server.WithLogger(log))
	gs := server.NewGRPCServer(svc, health.NewServer(), log, server.DefaultGRPCConfig())
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	var wg sync.WaitGroup
	for _, run := range []func(){
		func() { _ = gs.Serve(lis) },
		func() { _ = vw.Run(ctx) },
		func() { _ = tr.Run(ctx) },
	} {
		wg.Add(1)
		go func() { defer wg.Done(); run() }()
	}
	kb, err := client.New(lis.Addr().String(), opts...)
	if err != nil {
		tb.Fatalf("client: %v", err)
	}
	tb.Cleanup(func() {
		kb.Close()
		cancel()
		gs.Stop()
		wg.Wait()
	})
	return &broker{addr: lis.Addr().String(), store: st, kb: kb}
}

// keySecrets are the pool's keys, the same in every run: the fake counts
// per secret and window, and every run starts in a fresh window.
func keySecrets(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("sk-bench-budget-%02d-abcdefghijklmnopqrstuvwxyz", i)
	}
	return out
}

// outcome counts what callers got.
type outcome struct {
	ok, upstream429, refused, failed atomic.Int64
	refusedNoRetry                   atomic.Int64 // refusals without a RetryInfo
}

// call makes one request through hc and counts its outcome.
func call(ctx context.Context, hc *http.Client, url string, tokens int64, o *outcome) {
	req, _ := http.NewRequestWithContext(client.WithEstimatedTokens(ctx, tokens), http.MethodPost, url, http.NoBody)
	req.Header.Set(TokensHeader, fmt.Sprint(tokens))
	resp, err := hc.Do(req)
	if err != nil {
		switch client.ErrorReason(err) {
		case "NO_BUDGET", "NO_HEALTHY_KEY":
			o.refused.Add(1)
			if client.RetryDelay(err) <= 0 {
				o.refusedNoRetry.Add(1)
			}
		default:
			o.failed.Add(1)
		}
		return
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		o.ok.Add(1)
	case http.StatusTooManyRequests:
		o.upstream429.Add(1)
	default:
		o.failed.Add(1)
	}
}

// openLoop sends rate calls per second for d, each at its scheduled time
// whether or not earlier ones have finished (callers do not slow down
// because the service is slow), spread over the clients, and waits for
// them all.
func openLoop(ctx context.Context, hcs []*http.Client, url string, rate float64, d time.Duration, tokens int64, o *outcome) (late time.Duration) {
	var wg sync.WaitGroup
	n := int(rate * d.Seconds())
	gap := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	for i := range n {
		if wait := time.Until(start.Add(time.Duration(i) * gap)); wait > 0 {
			time.Sleep(wait)
		} else {
			late = max(late, -wait)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			call(ctx, hcs[i%len(hcs)], url, tokens, o)
		}()
	}
	wg.Wait()
	return late
}
