package store

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/keybroker/keybroker/failure"
)

// Fifty goroutines add, remove, report and pick the same keys at once; the
// pool must stay consistent (no key both selectable and disabled, every
// index in step) because every transition is one script.
func TestConcurrentChangesLeaveAConsistentPool(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	all := secrets(20)
	ids := f.add(t, "p", len(all))
	kinds := []failure.Kind{failure.RateLimited, failure.QuotaExhausted, failure.InvalidKey, failure.PermissionDenied, failure.Transient}

	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for g := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for range 100 {
				i := r.IntN(len(all))
				var err error
				switch r.IntN(4) {
				case 0:
					_, err = f.st.Add(ctx, "p", all[i:i+1])
				case 1:
					_, err = f.st.Remove(ctx, "p", ids[i:i+1])
				case 2:
					k := kinds[r.IntN(len(kinds))]
					_, err = f.st.Report(ctx, "p", ids[i], Failure{Kind: k, Reason: "x", Until: time.Now().Add(time.Duration(r.IntN(3)) * time.Millisecond)})
					if err != nil && isUnknown(err) {
						err = nil
					}
				case 3:
					_, err = f.st.Pick(ctx, "p")
					if isNoKey(err) {
						err = nil
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	checkInvariants(t, f.rdb, "p")
}
