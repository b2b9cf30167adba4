package worker

import (
	"hash/fnv"
	"strconv"
	"testing"
	"time"

	"github.com/keybroker/keybroker/internal/config"
	"github.com/keybroker/keybroker/internal/store"
)

// TestPoolConvergesToTheUsableKeys is the worker's end-to-end property: a relay
// that has no credit for some keys (from the start, or running out midway),
// rejects others, and answers 503 to about a third of all requests (and to
// every other request for some keys) brings the pool to exactly its usable
// keys, and no usable key ever leaves active because of a fault.
func TestPoolConvergesToTheUsableKeys(t *testing.T) {
	e := newEnv(t)
	f := newFake(t, "billing", e.clock.Now)
	usable := secretsN("sk-usable", 20)
	flappy := secretsN("sk-flappy", 10)
	broke := secretsN("sk-broke", 10)
	runsOut := secretsN("sk-runs-out", 5)
	rejected := secretsN("sk-rejected", 10)
	isFlappy := map[string]bool{}
	for _, s := range flappy {
		isFlappy[s] = true
	}
	f.flap = func(secret string, hit int) bool {
		if isFlappy[secret] {
			return hit%2 == 1
		}
		h := fnv.New32a()
		h.Write([]byte(secret + "#" + strconv.Itoa(hit)))
		return h.Sum32()%10 < 3
	}
	for _, s := range broke {
		f.setBalance(s, 5, 500)
	}
	for _, s := range rejected {
		f.set(s, invalid401)
	}
	all := append(append(append(append(append([]string{}, usable...), flappy...), broke...), runsOut...), rejected...)
	ids := e.add("relay", all...)
	idOf := map[string]string{}
	for i, s := range all {
		idOf[s] = ids[i]
	}
	p := pool("billing", "billing", f.srv.URL)
	p.MaxRemovals = config.Allowance{Count: len(rejected)} // the brake has its own tests
	w := e.worker(policies(map[string]config.Pool{"relay": p}))
	step := time.Duration(float64(p.Validator.RetryInterval)*(1+p.Validator.Jitter)) + time.Millisecond

	want := map[string]store.State{}
	for _, s := range append(append([]string{}, usable...), flappy...) {
		want[idOf[s]] = store.Active
	}
	for _, s := range broke {
		want[idOf[s]] = store.Disabled
	}
	for _, s := range runsOut {
		want[idOf[s]] = store.Disabled
	}
	for _, s := range rejected {
		want[idOf[s]] = store.Quarantined
	}
	for round := 0; round < 100; round++ {
		if round == 3 {
			for _, s := range runsOut {
				f.setBalance(s, 20, 2000)
			}
		}
		e.sweep(w)
		e.clock.Advance(step)
		if round >= 40 && converged(e.keys("relay"), want) {
			break
		}
	}
	keys := e.keys("relay")
	if !converged(keys, want) {
		t.Fatalf("the pool did not converge: %d keys, stats %+v", len(keys), w.Stats())
	}
	for _, s := range append(append([]string{}, usable...), flappy...) {
		if h := e.history("relay", idOf[s]); len(h) != 1 {
			t.Fatalf("usable key %s moved: %+v", idOf[s], h)
		}
	}
	if s := w.Stats(); s.Faults == 0 || s.Removed != int64(len(rejected)) {
		t.Fatalf("stats = %+v; want faults seen and every rejected key quarantined", s)
	}
}

// converged reports whether the pool holds exactly the wanted keys in the
// wanted states.
func converged(keys map[string]store.Key, want map[string]store.State) bool {
	if len(keys) != len(want) {
		return false
	}
	for id, st := range want {
		if keys[id].State != st {
			return false
		}
	}
	return true
}
