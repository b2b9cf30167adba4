package view_test

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/keybroker/keybroker/internal/config"
	"github.com/keybroker/keybroker/internal/redistest"
	"github.com/keybroker/keybroker/internal/testkit"
	"github.com/keybroker/keybroker/internal/view"
)

// chiSquare9 is the chi-square critical value with 9 degrees of freedom
// (10 keys) at p = 1e-6: a fair strategy fails the test about once in a
// million runs.
const chiSquare9 = 44.81

// seeded returns a concurrency-safe random source with a fixed seed.
func seeded(seed uint64) func(uint64) uint64 {
	var mu sync.Mutex
	r := rand.New(rand.NewPCG(seed, seed))
	return func(n uint64) uint64 {
		mu.Lock()
		defer mu.Unlock()
		return r.Uint64N(n)
	}
}

// leaseCounts picks total keys from pool on 4 goroutines and counts them
// by key id.
func leaseCounts(t *testing.T, v *view.View, pool string, total int) map[string]int {
	t.Helper()
	var mu sync.Mutex
	counts := map[string]int{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := map[string]int{}
			for range total / 4 {
				got, err := v.Pick(context.Background(), pool)
				if err != nil {
					t.Error(err)
					return
				}
				mine[got.KeyID]++
			}
			mu.Lock()
			for k, n := range mine {
				counts[k] += n
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	return counts
}

// chiSquare is the statistic of observed counts against expected shares.
func chiSquare(counts map[string]int, ids []string, shares []float64, total int) float64 {
	var x float64
	for i, id := range ids {
		e := shares[i] * float64(total)
		d := float64(counts[id]) - e
		x += d * d / e
	}
	return x
}

// Every strategy gives each key its share: random and least_used evenly,
// weighted in proportion to the weights, round_robin exactly.
func TestStrategiesAreFair(t *testing.T) {
	srv := redistest.Start(t)
	r := startReplica(t, srv.Addr, view.WithRand(seeded(7)), view.WithWindow(time.Hour))
	ctx := context.Background()
	const keys, total = 10, 100_000
	weights := make([]uint32, keys)
	var weightSum float64
	for i := range weights {
		weights[i] = uint32(i + 1)
		weightSum += float64(i + 1)
	}
	idsOf := map[string][]string{}
	for _, pool := range []string{"uniform", "rr", "weighted", "least"} {
		res, err := r.store.AddWeighted(ctx, pool, testSecrets(pool, keys), weights)
		if err != nil {
			t.Fatal(err)
		}
		idsOf[pool] = res.KeyIDs
		waitLoaded(t, r, pool, keys)
	}
	even := make([]float64, keys)
	byWeight := make([]float64, keys)
	for i := range keys {
		even[i] = 1.0 / keys
		byWeight[i] = float64(weights[i]) / weightSum
	}

	for _, tc := range []struct {
		pool   string
		shares []float64
	}{{"uniform", even}, {"weighted", byWeight}, {"least", even}} {
		counts := leaseCounts(t, r.view, tc.pool, total)
		x := chiSquare(counts, idsOf[tc.pool], tc.shares, total)
		t.Logf("%s: chi-square %.1f (bound %.1f)", tc.pool, x, chiSquare9)
		if x > chiSquare9 {
			t.Errorf("%s: chi-square %.1f > %.1f: counts %v", tc.pool, x, chiSquare9, counts)
		}
	}

	rr := leaseCounts(t, r.view, "rr", total)
	for _, id := range idsOf["rr"] {
		if rr[id] != total/keys {
			t.Errorf("round_robin leased %s %d times, want exactly %d", id, rr[id], total/keys)
		}
	}
	// least_used is far more even than chance: within 1% of the mean.
	least := leaseCounts(t, r.view, "least", total)
	lo, hi := total, 0
	for _, id := range idsOf["least"] {
		lo, hi = min(lo, least[id]), max(hi, least[id])
	}
	t.Logf("least_used spread %d..%d", lo, hi)
	if hi-lo > total/keys/100 {
		t.Errorf("least_used spread %d..%d, want within %d", lo, hi, total/keys/100)
	}
}

// livePolicies is a policy whose pools' selection changes while the view
// runs, as a reloaded policy file does.
type livePolicies struct {
	mu  sync.Mutex
	sel config.Selection
}

func (l *livePolicies) Pool(string) config.Pool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return config.Pool{Selection: l.sel, LeaseTTL: config.Duration(time.Minute)}
}

func (l *livePolicies) set(s config.Selection) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sel = s
}

// A pool's strategy follows its policy while the broker runs: switched to
// weighted, a key weighing a million times more than the other takes every
// lease.
func TestStrategyFollowsAPolicyChange(t *testing.T) {
	srv := redistest.Start(t)
	live := &livePolicies{sel: config.Random}
	r := startReplicaWith(t, srv.Addr, live, view.WithFlushInterval(20*time.Millisecond))
	ctx := context.Background()
	res, err := r.store.AddWeighted(ctx, "p", testSecrets("live", 2), []uint32{1, 1_000_000})
	if err != nil {
		t.Fatal(err)
	}
	waitLoaded(t, r, "p", 2)
	live.set(config.Weighted)
	heavy := res.KeyIDs[1]
	testkit.EventuallyWhy(t, waitLimit, poll, "the weighted strategy", func() (bool, string) {
		for range 100 {
			got, err := r.view.Pick(ctx, "p")
			if err != nil || got.KeyID != heavy {
				return false, "the light key was leased"
			}
		}
		return true, ""
	})
}
