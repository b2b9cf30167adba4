package worker

import (
	"testing"
	"time"

	"github.com/keybroker/keybroker/internal/config"
	"github.com/keybroker/keybroker/internal/store"
)

// TestConnectionResetIsOneRequestPerCheck: a broken upstream resets the
// connection after reading each request. net/http would send an
// idempotent GET again on another pooled connection, and again, outside
// the pool's rate limit; a check must be exactly the requests its
// validator documents (one GET for openai's models list, the first GET of
// billing), and change nothing.
func TestConnectionResetIsOneRequestPerCheck(t *testing.T) {
	for _, dialect := range []string{"openai", "billing"} {
		t.Run(dialect, func(t *testing.T) {
			e := newEnv(t)
			f := newFake(t, dialect, e.clock.Now)
			secrets := secretsN("sk-reset-"+dialect, 4)
			ids := e.add("p", secrets...)
			p := pool(dialect, dialect, f.srv.URL)
			w := e.worker(policies(map[string]config.Pool{"p": p}))
			e.sweep(w) // every key checked once: the client now holds idle connections
			before := map[string]int{}
			for _, s := range secrets {
				f.set(s, faultReset)
				before[s] = f.hitsOf(s)
			}
			e.clock.Advance(2 * time.Duration(p.Validator.Interval))
			e.sweep(w)
			for i, s := range secrets {
				if got := f.hitsOf(s) - before[s]; got != 1 {
					t.Errorf("key %d: %d upstream requests for one check, want 1", i, got)
				}
				if k := e.keys("p")[ids[i]]; k.State != store.Active {
					t.Errorf("key %d is %s after a reset; a fault changes nothing", i, k.State)
				}
			}
		})
	}
}
