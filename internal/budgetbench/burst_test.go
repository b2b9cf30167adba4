package budgetbench

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keybroker/keybroker/client"
	"github.com/keybroker/keybroker/internal/config"
	"github.com/keybroker/keybroker/internal/redistest"
)

// TestABurstOnOneKeyIsAdmittedWithinItsLimit: a batch job fires 250 calls
// at once at a pool of one key with room for 300 per window. A replica
// claims slices by its recent rate, capped near the key's even pace, so
// the burst outruns its slice; the lease path must claim more from the
// shared count rather than refuse calls the limit still has room for.
// No client retries: every refusal would count.
func TestABurstOnOneKeyIsAdmittedWithinItsLimit(t *testing.T) {
	const window = 10 * time.Second
	win := config.Duration(window)
	pol := &config.Config{Pools: map[string]config.Pool{
		"burst": {Limits: config.Limits{RequestsPerMinute: 300 * 6, Window: win}},
	}}
	b := startBroker(t, redistest.Start(t).Addr, pol, time.Now, client.WithRetryPolicy(client.RetryPolicy{MaxAttempts: 1}))
	if _, err := b.kb.Add(context.Background(), "burst", keySecrets(1)); err != nil {
		t.Fatal(err)
	}
	// Start early in a window, so that the burst is counted in one.
	now := time.Now()
	if left := now.Truncate(window).Add(window).Sub(now); left < 7*time.Second {
		time.Sleep(left + 100*time.Millisecond)
	}
	var ok, refused atomic.Int64
	var wg sync.WaitGroup
	for range 250 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if _, err := b.kb.GetRandom(ctx, "burst"); err != nil {
				refused.Add(1)
				t.Logf("refused: %v", err)
				return
			}
			ok.Add(1)
		})
	}
	wg.Wait()
	if refused.Load() > 0 {
		t.Errorf("%d of 250 calls refused with room for 300 in the window", refused.Load())
	}
}
