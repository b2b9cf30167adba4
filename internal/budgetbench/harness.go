package budgetbench

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keybroker/keybroker/client"
	"github.com/keybroker/keybroker/internal/broker"
	"github.com/keybroker/keybroker/internal/config"
	"github.com/keybroker/keybroker/internal/store"
)

// replica is one broker in this process, assembled by internal/broker as
// serve assembles it (store, in-memory view, budgets, service, default
// gRPC server), with a client of its own.
type replica struct {
	kb *client.Client
}

// startBroker runs a replica on the Redis at redisAddr until the test
// ends. now is the broker's clock.
func startBroker(tb testing.TB, redisAddr string, pol *config.Config, now func() time.Time, opts ...client.Option) *replica {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b, err := broker.New(ctx, broker.Config{
		Redis:    store.RedisConfig{Addrs: []string{redisAddr}},
		Policies: pol,
		Logger:   slog.New(slog.DiscardHandler),
		Listen:   "127.0.0.1:0",
	}, broker.WithClock(now))
	if err != nil {
		cancel()
		tb.Fatalf("broker: %v", err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = b.Run(ctx) }()
	kb, err := client.New(b.Addr(), opts...)
	if err != nil {
		tb.Fatalf("client: %v", err)
	}
	tb.Cleanup(func() {
		kb.Close()
		cancel()
		<-done
	})
	return &replica{kb: kb}
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
	// refusedAt counts refusals by the tenth of the budget window (of
	// length window; 0: not counted) they came in: where in the window a
	// broker said no.
	refusedAt [10]atomic.Int64
	window    time.Duration
}

// phases is refusedAt as text.
func (o *outcome) phases() string {
	s := ""
	for i := range o.refusedAt {
		s += fmt.Sprintf(" %d", o.refusedAt[i].Load())
	}
	return s
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
			if o.window > 0 {
				o.refusedAt[phaseOf(time.Now(), o.window)].Add(1)
			}
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

// phaseOf is the tenth of the budget window of length window t falls in.
func phaseOf(t time.Time, window time.Duration) int {
	w := window.Milliseconds()
	return int(t.UnixMilli() % w * 10 / w)
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
