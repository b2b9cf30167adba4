package budgetbench

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/keybroker/keybroker/client"
	"github.com/keybroker/keybroker/internal/config"
	"github.com/keybroker/keybroker/internal/redistest"
)

// The bench's pool: 10 keys of 100 calls and 10,000 tokens per 2s window
// (500 calls a second in all); every call costs 80 tokens, so requests
// bind.
const (
	benchKeys   = 10
	benchReqs   = 100
	benchToks   = 10_000
	benchCost   = 80
	benchWindow = 2 * time.Second
)

// benchRun is one row: a selection mode, lease reuse or not, a number of
// replicas and a load as a share of capacity.
type benchRun struct {
	mode     string // reactive, budgets, learned
	reuse    bool
	replicas int
	load     float64
	windows  int
}

func (r benchRun) pool(i int) string {
	return fmt.Sprintf("%s-%d-%t-%d", r.mode, r.replicas, r.reuse, i)
}

// BenchmarkBudgets runs the table of docs/benchmarks.md's budgets section:
// open-loop load through the Transport at 50, 90 and 120% of the pool's
// capacity, today's reactive selection side by side with budgets, with
// and without lease reuse, one replica and three sharing the pool. It is
// one measurement, not a loop: run it with -benchtime 1x.
//
//	go test -run '^$' -bench Budgets -benchtime 1x ./internal/budgetbench
func BenchmarkBudgets(b *testing.B) {
	if b.N > 1 {
		b.Skip("one run is the measurement; use -benchtime 1x")
	}
	runs := benchRuns()
	pol := &config.Config{Defaults: config.Pool{Limits: config.Limits{Window: config.Duration(benchWindow)}}, Pools: map[string]config.Pool{}}
	for i, r := range runs {
		if r.mode == "budgets" {
			pol.Pools[r.pool(i)] = config.Pool{Limits: config.Limits{
				RequestsPerMinute: benchReqs * 30, TokensPerMinute: benchToks * 30, Window: config.Duration(benchWindow)}}
		}
	}
	up := newUpstream(benchWindow, 0, benchReqs, benchToks, time.Now)
	defer up.Close()
	redisAddr := redistest.Start(b).Addr
	// Refusals are counted as they come: no client retries (an open-loop
	// caller that retried would only move its call to a later window).
	noRetry := client.WithRetryPolicy(client.RetryPolicy{MaxAttempts: 1})
	var brokers []*replica
	for range 3 {
		brokers = append(brokers, startBroker(b, redisAddr, pol, time.Now, noRetry))
	}
	capacity := float64(benchKeys*benchReqs) / benchWindow.Seconds()

	fmt.Printf("\nbudgets bench: %d keys × %d calls and %d tokens per %s window (capacity %.0f calls/s), %d tokens a call\n",
		benchKeys, benchReqs, benchToks, benchWindow, capacity, benchCost)
	fmt.Printf("%-9s %-6s %8s %5s %8s %8s %8s %8s %10s %9s %10s\n",
		"mode", "reuse", "replicas", "load", "offered", "ok", "429", "refused", "429 share", "delivered", "over-admit")
	for i, r := range runs {
		pool := r.pool(i)
		if _, err := brokers[0].kb.Add(context.Background(), pool, keySecrets(benchKeys)); err != nil {
			b.Fatal(err)
		}
		hcs := make([]*http.Client, r.replicas)
		for j := range hcs {
			var opts []client.TransportOption
			if r.mode == "reactive" {
				opts = append(opts, client.WithoutUsageReports())
			}
			if r.reuse {
				opts = append(opts, client.WithLeaseReuse(0))
			}
			hcs[j] = &http.Client{Transport: client.NewTransport(brokers[j].kb, pool, opts...)}
		}
		if r.mode == "learned" {
			// A window of light traffic teaches the limits.
			warm := &outcome{}
			openLoop(context.Background(), hcs, up.URL, capacity*0.3, benchWindow, benchCost, warm)
		}
		alignToWindow()
		up.resetCounts()
		o := &outcome{window: benchWindow}
		d := time.Duration(r.windows) * benchWindow
		start := time.Now()
		late := openLoop(context.Background(), hcs, up.URL, capacity*r.load, d, benchCost, o)
		elapsed := time.Since(start)
		over, arrived := up.overAdmitted()
		offered := int64(capacity * r.load * d.Seconds())
		ok := o.ok.Load()
		fmt.Printf("%-9s %-6t %8d %4.0f%% %8d %8d %8d %8d %9.2f%% %8.1f%% %9.2f%%\n",
			r.mode, r.reuse, r.replicas, r.load*100, offered, ok, o.upstream429.Load(), o.refused.Load(),
			100*float64(o.upstream429.Load())/float64(max(offered, 1)),
			100*float64(ok)/(capacity*min(r.load, 1)*d.Seconds()),
			100*float64(over)/float64(max(arrived, 1)))
		if f := o.failed.Load() + o.refusedNoRetry.Load(); f > 0 || late > 50*time.Millisecond || elapsed > d+time.Second {
			fmt.Printf("          (%d failed otherwise, %d refusals without RetryInfo; load generator up to %s late; took %s)\n",
				o.failed.Load(), o.refusedNoRetry.Load(), late.Round(time.Millisecond), elapsed.Round(time.Millisecond))
		}
		if os.Getenv("BUDGETBENCH_PHASES") != "" && o.refused.Load() > 0 {
			fmt.Printf("          refusals by tenth of the window:%s\n", o.phases())
		}
	}
}

// benchRuns is the table; BUDGETBENCH_QUICK=1 keeps one window per row,
// BUDGETBENCH_REPLICAS=N only the rows with N replicas.
func benchRuns() []benchRun {
	all := allRuns()
	only := os.Getenv("BUDGETBENCH_REPLICAS")
	if only == "" {
		return all
	}
	var out []benchRun
	for _, r := range all {
		if fmt.Sprint(r.replicas) == only {
			out = append(out, r)
		}
	}
	return out
}

// allRuns is the whole table.
func allRuns() []benchRun {
	var out []benchRun
	windows := 3
	if os.Getenv("BUDGETBENCH_QUICK") != "" {
		windows = 1
	}
	for _, reuse := range []bool{false, true} {
		for _, load := range []float64{0.5, 0.9, 1.2} {
			for _, mode := range []string{"reactive", "budgets"} {
				w := windows
				if load == 0.5 {
					w = 1
				}
				out = append(out, benchRun{mode: mode, reuse: reuse, replicas: 1, load: load, windows: w})
			}
		}
	}
	for _, load := range []float64{0.9, 1.2} {
		out = append(out, benchRun{mode: "learned", replicas: 1, load: load, windows: windows})
	}
	for _, reuse := range []bool{false, true} {
		for _, load := range []float64{0.9, 1.2} {
			out = append(out, benchRun{mode: "budgets", reuse: reuse, replicas: 3, load: load, windows: windows})
		}
	}
	return out
}

// alignToWindow waits for the next window to start, so that every row
// measures whole windows.
func alignToWindow() {
	now := time.Now()
	time.Sleep(now.Truncate(benchWindow).Add(benchWindow).Sub(now) + 5*time.Millisecond)
}
