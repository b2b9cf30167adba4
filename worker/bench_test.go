package worker

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/keybroker/keybroker/internal/config"
)

// BenchmarkSweep checks 10,000 keys against a fake provider that takes
// 20ms to answer each request, and reports how the sweep's time compares
// with perfect parallelism, keys × calls × latency / concurrency: ratio 1.0
// means the worker added nothing to the upstream's own latency. Redis
// (claims and results, two scripts per key) and scheduling are the rest.
// raw-http-ratio is the same measure for bare HTTP requests made in the
// same run with the same concurrency: what the machine itself allows.
//
//	go test ./worker -run '^$' -bench BenchmarkSweep -benchtime 3x
func BenchmarkSweep(b *testing.B) {
	cases := []struct {
		dialect     string
		calls       int // upstream requests per check
		concurrency int
	}{
		{"openai", 1, 100},
		{"billing", 2, 100},
		{"openai", 1, 250},
	}
	for _, bc := range cases {
		b.Run(fmt.Sprintf("%s/calls=%d/concurrency=%d", bc.dialect, bc.calls, bc.concurrency), func(b *testing.B) {
			benchSweep(b, bc.dialect, bc.calls, bc.concurrency)
		})
	}
}

func benchSweep(b *testing.B, dialect string, calls, concurrency int) {
	const keys, latency = 10_000, 20 * time.Millisecond
	e := newEnv(b)
	f := newFake(b, dialect, e.clock.Now)
	f.latency = latency
	e.add("bench", secretsN("sk-bench", keys)...)
	p := pool(dialect, dialect, f.srv.URL)
	p.Validator.Concurrency, p.Validator.Timeout = concurrency, config.Duration(10*time.Second)
	w := e.worker(policies(map[string]config.Pool{"bench": p}), WithConcurrency(concurrency), WithLogger(slog.New(slog.DiscardHandler)))
	next := time.Duration(float64(p.Validator.Interval)*(1+p.Validator.Jitter)) + time.Millisecond

	raw := rawRequests(b, f.srv.URL+"/v1/models", keys*calls, concurrency)
	var total time.Duration
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		e.sweep(w)
		total += time.Since(start)
		b.StopTimer()
		e.clock.Advance(next) // every key is due again
		b.StartTimer()
	}
	b.StopTimer()
	if s := w.Stats(); s.Checked != int64(keys*b.N) || s.Faults != 0 {
		b.Fatalf("stats = %+v, want %d clean checks", s, keys*b.N)
	}
	ideal := time.Duration(keys*calls) * latency / time.Duration(concurrency)
	sweep := total / time.Duration(b.N)
	b.ReportMetric(sweep.Seconds(), "s/sweep")
	b.ReportMetric(ideal.Seconds(), "ideal-s/sweep")
	b.ReportMetric(float64(sweep)/float64(ideal), "ratio")
	b.ReportMetric(float64(raw)/float64(ideal), "raw-http-ratio")
}

// rawRequests is the baseline of the same run: n bare GETs to url from
// concurrency goroutines, no Redis and no worker, which is the best this
// machine (fake and client sharing its cores) can do.
func rawRequests(b *testing.B, url string, n, concurrency int) time.Duration {
	client := defaultClient(concurrency)
	jobs := make(chan struct{}, n)
	for range n {
		jobs <- struct{}{}
	}
	close(jobs)
	start := time.Now()
	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() {
			for range jobs {
				req, _ := http.NewRequest(http.MethodGet, url, nil)
				req.Header.Set("Authorization", "Bearer sk-baseline")
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body) // drained for connection reuse; only the status matters
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}
