package client

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/keybroker/keybroker/internal/brokertest"
)

// BenchmarkTransport measures requests per second to a fake upstream
// three ways in one run — directly, through Transport reusing leases, and
// through Transport leasing per request — interleaved request by request
// so that all three see the same machine load, and reports each rate and
// the ratios against direct. Client, broker, Redis and upstream share the
// machine. docs/benchmarks.md records the results.
func BenchmarkTransport(b *testing.B) {
	br := brokertest.Start(b, nil)
	for i := range 10 {
		br.Add(b, "bench", fmt.Sprintf("sk-bench-%02d-0123456789abcdef", i))
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, okBody)
	}))
	defer up.Close()
	kb := newClient(b, br.Addr)
	newBase := func() http.RoundTripper { return http.DefaultTransport.(*http.Transport).Clone() }
	clients := []*http.Client{
		{Transport: newBase()},
		{Transport: NewTransport(kb, "bench", WithBase(newBase()), WithLeaseReuse(0))},
		{Transport: NewTransport(kb, "bench", WithBase(newBase()))},
	}
	for _, par := range []int{1, 8} {
		b.Run(fmt.Sprintf("concurrency=%d", par), func(b *testing.B) {
			rates := measure(b, par, up.URL, clients)
			b.ReportMetric(rates[0], "direct-req/s")
			b.ReportMetric(rates[1], "reuse-req/s")
			b.ReportMetric(rates[2], "noreuse-req/s")
			b.ReportMetric(rates[1]/rates[0], "reuse/direct")
			b.ReportMetric(rates[2]/rates[0], "noreuse/direct")
		})
	}
}

// measure has par goroutines send b.N rounds in all, each round one
// request with each client in turn, and returns each client's requests per second
// of its own time.
func measure(b *testing.B, par int, url string, clients []*http.Client) []float64 {
	var mu sync.Mutex
	spent := make([]time.Duration, len(clients))
	rounds := make(chan int)
	var wg sync.WaitGroup
	for range par {
		wg.Go(func() {
			mine := make([]time.Duration, len(clients))
			for r := range rounds {
				for j := range clients { // each round starts with the next client: no one always goes first
					i := (r + j) % len(clients)
					start := time.Now()
					get(b, clients[i], url)
					mine[i] += time.Since(start)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			for i, d := range mine {
				spent[i] += d
			}
		})
	}
	n := 0
	for b.Loop() {
		rounds <- n
		n++
	}
	close(rounds)
	wg.Wait()
	rates := make([]float64, len(clients))
	for i, d := range spent {
		rates[i] = float64(n) / d.Seconds() * float64(par)
	}
	return rates
}

func get(b *testing.B, c *http.Client, url string) {
	resp, err := c.Get(url)
	if err != nil {
		b.Error(err)
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Errorf("status %d", resp.StatusCode)
	}
}
