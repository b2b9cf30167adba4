package worker

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/keybroker/keybroker/internal/config"
	"github.com/keybroker/keybroker/internal/store"
	"github.com/keybroker/keybroker/internal/testkit"
)

// replicas is a pool of 1,000 keys checked by three running workers.
type replicas struct {
	e       *env
	f       *fake
	secrets []string
	ids     []string
	workers []*Worker
	policy  config.Pool
}

func newReplicas(t *testing.T) *replicas {
	e := newEnv(t)
	f := newFake(t, "openai", e.clock.Now) // one request per check
	secrets := secretsN("sk-replica", 1000)
	return &replicas{e: e, f: f, secrets: secrets, ids: e.add("p", secrets...), policy: pool("openai", "openai", f.srv.URL)}
}

// start runs a worker whose pool talks to base.
func (r *replicas) start(t *testing.T, name, base string) (*Worker, func()) {
	p := r.policy
	p.BaseURL = base
	w := r.e.worker(policies(map[string]config.Pool{"p": p}), WithName(name))
	r.workers = append(r.workers, w)
	return w, run(t, w)
}

// validatedSince counts keys whose last check is at or after t.
func (r *replicas) validatedSince(t time.Time) int {
	n := 0
	for _, k := range r.e.keys("p") {
		if !k.LastValidated.Before(t) {
			n++
		}
	}
	return n
}

// settle waits until every given worker has looked for due keys at least
// three more times and found none, so that any check it was going to make
// has been made.
func settle(t *testing.T, workers ...*Worker) {
	t.Helper()
	base := make([]int64, len(workers))
	for i, w := range workers {
		base[i] = w.Stats().IdlePolls
	}
	testkit.Eventually(t, waitLimit, poll, "the workers are idle", func() bool {
		for i, w := range workers {
			if w.Stats().IdlePolls < base[i]+3 {
				return false
			}
		}
		return true
	})
}

// checkHits fails unless every key was asked about exactly want times.
func (r *replicas) checkHits(t *testing.T, want int) {
	t.Helper()
	for i, s := range r.secrets {
		if got := r.f.hitsOf(s); got != want {
			t.Fatalf("key %s was checked %d times, want %d", r.ids[i], got, want)
		}
	}
}

// TestThreeReplicasCheckEachKeyOncePerInterval runs three workers against
// one Redis: each of 1,000 keys is checked exactly once, and once more
// after the interval, never twice, however the three share the work.
func TestThreeReplicasCheckEachKeyOncePerInterval(t *testing.T) {
	r := newReplicas(t)
	for _, name := range []string{"a", "b", "c"} {
		r.start(t, name, r.f.srv.URL)
	}
	start := r.e.clock.Now()
	testkit.Eventually(t, waitLimit, poll, "every key is checked", func() bool { return r.validatedSince(start) == len(r.ids) })
	settle(t, r.workers...)
	r.checkHits(t, 1)
	for _, w := range r.workers {
		if w.Stats().Checked == 0 {
			t.Errorf("a worker checked nothing: %+v", w.Stats())
		}
	}

	r.e.clock.Advance(time.Duration(float64(r.policy.Validator.Interval)*(1+r.policy.Validator.Jitter)) + time.Millisecond)
	second := r.e.clock.Now()
	testkit.Eventually(t, waitLimit, poll, "every key is checked again", func() bool { return r.validatedSince(second) == len(r.ids) })
	settle(t, r.workers...)
	r.checkHits(t, 2)
}

// stallAfter is a provider in front of f that answers n requests and then
// hangs every request until the client gives up, as a replica's upstream
// connection would when the replica freezes.
type stallAfter struct {
	f       *fake
	mu      sync.Mutex
	n       int
	stalled int // requests hanging now
}

func (s *stallAfter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.n > 0 {
		s.n--
		s.mu.Unlock()
		s.f.serve(w, r)
		return
	}
	s.stalled++
	s.mu.Unlock()
	<-r.Context().Done()
	s.mu.Lock()
	s.stalled--
	s.mu.Unlock()
}

func (s *stallAfter) hanging() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stalled
}

// TestKilledReplicasKeysArePickedUp: one of three workers freezes mid-sweep
// holding claims and is then killed. The others finish the rest, and the
// frozen worker's keys once its claims lapse; still no key is checked
// twice.
func TestKilledReplicasKeysArePickedUp(t *testing.T) {
	r := newReplicas(t)
	gate := &stallAfter{f: r.f, n: 50}
	stalling := httptest.NewServer(gate)
	t.Cleanup(func() { stalling.CloseClientConnections(); stalling.Close() })

	frozen, kill := r.start(t, "frozen", stalling.URL)
	testkit.Eventually(t, waitLimit, poll, "the frozen worker holds all its slots", func() bool { return gate.hanging() == r.policy.Validator.Concurrency })
	kill() // its checks are abandoned unapplied; its claims stay in Redis
	b, _ := r.start(t, "b", r.f.srv.URL)
	c, _ := r.start(t, "c", r.f.srv.URL)
	start := r.e.clock.Now()
	settle(t, b, c)
	// The frozen worker held a claim for each of its slots; a slot freed
	// by the kill may have claimed a few more just before it stopped.
	held, slots := len(r.ids)-r.validatedSince(start), r.policy.Validator.Concurrency
	if held < slots || held > 2*slots {
		t.Fatalf("%d keys unchecked after the others finished, want the %d to %d the frozen worker held", held, slots, 2*slots)
	}

	r.e.clock.Advance(frozen.runner("p").hold) // the claims lapse; the interval has not passed
	testkit.Eventually(t, waitLimit, poll, "the frozen worker's keys are checked", func() bool { return r.validatedSince(start) == len(r.ids) })
	settle(t, b, c)
	r.checkHits(t, 1)
	if s := frozen.Stats(); s.Checked != 50 {
		t.Fatalf("frozen worker applied %d checks, want the 50 answered before it froze", s.Checked)
	}
	if got := b.Stats().Checked + c.Stats().Checked; got != int64(len(r.ids)-50) {
		t.Fatalf("the other workers applied %d checks, want %d", got, len(r.ids)-50)
	}
	for _, k := range r.e.keys("p") {
		if k.State != store.Active {
			t.Fatalf("key %s is %s", k.ID, k.State)
		}
	}
}
