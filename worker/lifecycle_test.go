package worker

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keybroker/keybroker/failure"
	"github.com/keybroker/keybroker/internal/config"
	"github.com/keybroker/keybroker/internal/store"
	"github.com/keybroker/keybroker/internal/testkit"
)

// TestSuspectKeysAreVerifiedWithoutATick: a caller reports two keys
// invalid; the running worker verifies both at once, while the clock
// stands still so that no periodic check can have done it: the one that
// works is restored, the one that does not has its first strike (a
// caller's report is not one) and is quarantined by the confirming check
// once confirm_delay has passed.
func TestSuspectKeysAreVerifiedWithoutATick(t *testing.T) {
	e := newEnv(t)
	f := newFake(t, "openai", e.clock.Now)
	good, bad := "sk-suspect-good-0123456789abcdef", "sk-suspect-bad-0123456789abcdef"
	ids := e.add("p", good, bad)
	w := e.worker(policies(map[string]config.Pool{"p": pool("openai", "openai", f.srv.URL)}))
	e.sweep(w) // the first check of new keys: both fine, next check in an hour
	f.set(bad, invalid401)
	run(t, w)
	ctx := context.Background()
	for _, id := range ids {
		tr, err := e.st.Report(ctx, "p", id, store.Failure{Kind: failure.InvalidKey, Reason: "invalid_api_key"})
		if err != nil || tr.To != store.Suspect {
			t.Fatalf("report = %+v, %v", tr, err)
		}
	}
	testkit.Eventually(t, waitLimit, poll, "both suspect keys are decided", func() bool {
		keys := e.keys("p")
		return keys[ids[0]].State == store.Active && !keys[ids[1]].LastValidated.IsZero() &&
			len(e.history("p", ids[1])) == 2
	})
	if k := e.keys("p")[ids[1]]; k.State != store.Suspect {
		t.Fatalf("bad key after its first strike = %s, want suspect", k.State)
	}
	e.clock.Advance(time.Duration(policies(nil).Pool("p").ConfirmDelay))
	// The confirming check is due confirm_delay after the first strike,
	// plus the schedule's jitter: let the clock creep on until it runs.
	testkit.Eventually(t, waitLimit, poll, "the bad key is quarantined", func() bool {
		if e.keys("p")[ids[1]].State == store.Quarantined {
			return true
		}
		e.clock.Advance(100 * time.Millisecond)
		return false
	})
	if k := e.keys("p")[ids[0]]; k.Reason != "verified" {
		t.Fatalf("restored key reason %q, want verified", k.Reason)
	}
	h := e.history("p", ids[1])
	if h[0].To != store.Quarantined || h[0].From != store.Suspect || h[0].Actor != "worker" || h[1].Actor != "report" {
		t.Fatalf("history of the quarantined key = %+v", h)
	}
}

// TestDisabledKeyReturnsWhenToppedUp: a relay key out of credit is parked,
// re-checked every disabled_interval, and returns once its balance is
// topped up.
func TestDisabledKeyReturnsWhenToppedUp(t *testing.T) {
	e := newEnv(t)
	f := newFake(t, "billing", e.clock.Now)
	sec := "sk-topup-0123456789abcdef"
	f.setBalance(sec, 10, 1000) // $10 of $10 used
	id := e.add("relay", sec)[0]
	p := pool("billing", "billing", f.srv.URL)
	w := e.worker(policies(map[string]config.Pool{"relay": p}))
	e.sweep(w)
	if k := e.keys("relay")[id]; k.State != store.Disabled || k.Reason != "usage_limit_reached" {
		t.Fatalf("exhausted key = %s (%s)", k.State, k.Reason)
	}
	f.setBalance(sec, 50, 1000)
	e.clock.Advance(time.Duration(p.Validator.Interval)) // an active key's interval is not enough
	e.sweep(w)
	if k := e.keys("relay")[id]; k.State != store.Disabled {
		t.Fatalf("re-checked before disabled_interval: %s", k.State)
	}
	e.clock.Advance(time.Duration(float64(p.Validator.DisabledInterval) * (1 + p.Validator.Jitter)))
	e.sweep(w)
	k := e.keys("relay")[id]
	if k.State != store.Active || k.Reason != "verified" || k.Balance.LimitUSD != 50 || k.Balance.UsedUSD != 10 {
		t.Fatalf("after the top-up key = %s (%s), balance %+v", k.State, k.Reason, k.Balance)
	}
}

// TestRemoveExhaustedIsThePoolsChoice: on_exhausted: remove takes keys
// out of credit out of the pool (quarantined, not deleted, as the seed
// did); permission problems are still only parked.
func TestRemoveExhaustedIsThePoolsChoice(t *testing.T) {
	e := newEnv(t)
	f := newFake(t, "billing", e.clock.Now)
	broke, fine := "sk-broke-0123456789abcdef", "sk-fine-0123456789abcdef"
	f.set(broke, exhaustedQ)
	ids := e.add("seed", broke, fine)
	p := pool("billing", "billing", f.srv.URL)
	p.Validator.OnExhausted = config.ExhaustedRemove
	e.sweep(e.worker(policies(map[string]config.Pool{"seed": p})))
	keys := e.keys("seed")
	if keys[ids[0]].State != store.Quarantined || keys[ids[1]].State != store.Active {
		t.Fatalf("keys = %+v; want the exhausted one quarantined, the other active", keys)
	}
	if h := e.history("seed", ids[0]); h[0].To != store.Quarantined || h[0].Reason != "usage_limit_reached" {
		t.Fatalf("history = %+v", h)
	}
}

// TestGeminiKeyNeverReachesTheLog: Gemini's key is in the URL, and
// net/http quotes URLs in its errors; the worker's log must not show it
// whatever goes wrong.
func TestGeminiKeyNeverReachesTheLog(t *testing.T) {
	e := newEnv(t) // the env fails the test if a secret is in the log
	f := newFake(t, "gemini", e.clock.Now)
	secrets := []string{"AIzaSyA-reset/+=&key-0123456789", "AIzaSyB-timeout-0123456789abcdef", "AIzaSyC-garbage-0123456789abcdef"}
	f.set(secrets[0], faultReset)
	f.set(secrets[1], faultTimeout)
	f.set(secrets[2], faultGarbage)
	e.add("g", secrets...)
	p := pool("gemini", "gemini", f.srv.URL)
	p.Validator.Timeout = shortTimeout
	e.sweep(e.worker(policies(map[string]config.Pool{"g": p})))
	logs := e.logs.String()
	if strings.Count(logs, "check learned nothing") != 3 || !strings.Contains(logs, "key=REDACTED") {
		t.Fatalf("want three faults logged with the key redacted from the URL:\n%s", logs)
	}
}

// TestUnreachableUpstreamChangesNothing: a base URL nobody listens on.
func TestUnreachableUpstreamChangesNothing(t *testing.T) {
	e := newEnv(t)
	f := newFake(t, "openai", e.clock.Now)
	base := f.srv.URL
	f.srv.Close() // the port is now closed: connection refused
	ids := e.add("p", secretsN("sk-unreachable", 3)...)
	before := e.keys("p")
	w := e.worker(policies(map[string]config.Pool{"p": pool("openai", "openai", base)}))
	e.sweep(w)
	if s := w.Stats(); s.Faults != 3 || s.Changed != 0 {
		t.Fatalf("stats = %+v", s)
	}
	after := e.keys("p")
	for _, id := range ids {
		if before[id] != after[id] {
			t.Fatalf("key changed: %+v → %+v", before[id], after[id])
		}
	}
}

// TestRedisOutageIsSurvivedAndLoggedOnce: while Redis is down the worker
// counts every failed poll but warns once, and carries on when Redis is
// back (here empty, as a Redis that lost its memory).
func TestRedisOutageIsSurvivedAndLoggedOnce(t *testing.T) {
	e := newEnv(t)
	f := newFake(t, "openai", e.clock.Now)
	w := e.worker(policies(map[string]config.Pool{"p": pool("openai", "openai", f.srv.URL)}))
	e.add("p", "sk-before-outage-0123456789abcdef")
	run(t, w)
	testkit.Eventually(t, waitLimit, poll, "the first key is checked", func() bool { return w.Stats().Checked == 1 })
	e.srv.Stop()
	testkit.Eventually(t, waitLimit, poll, "several polls fail", func() bool { return w.Stats().Errors >= 5 })
	if n := strings.Count(e.logs.String(), "level=WARN msg=\"worker: claim due keys\""); n != 1 {
		t.Fatalf("warned %d times about the outage, want once:\n%s", n, e.logs)
	}
	e.srv.Restart()
	after := "sk-after-outage-0123456789abcdef"
	e.mu.Lock()
	e.secrets = append(e.secrets, after)
	e.mu.Unlock()
	var id string
	testkit.Eventually(t, waitLimit, poll, "the client reconnects", func() bool { // the Redis client backs off redialing for a second
		res, err := e.st.Add(context.Background(), "p", []string{after})
		if err == nil {
			id = res.KeyIDs[0]
		}
		return err == nil
	})
	testkit.Eventually(t, waitLimit, poll, "the key added after the outage is checked", func() bool {
		k, ok := e.keysIfUp("p")[id]
		return ok && !k.LastValidated.IsZero()
	})
	if !strings.Contains(e.logs.String(), "claiming due keys works again") {
		t.Fatalf("no recovery in the log:\n%s", e.logs)
	}
}

// switchable is a configuration that a test replaces while a worker runs,
// as config.Live does on a reload.
type switchable struct {
	mu  sync.Mutex
	cfg *config.Config
}

func (s *switchable) Pool(name string) config.Pool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg.Pool(name)
}

func (s *switchable) set(cfg *config.Config) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cfg = cfg
}

// TestPolicyChangesApplyWhileRunning: a reloaded configuration that points
// a pool elsewhere (or turns checking on or off) takes effect without a
// restart.
func TestPolicyChangesApplyWhileRunning(t *testing.T) {
	e := newEnv(t)
	before, after := newFake(t, "openai", e.clock.Now), newFake(t, "openai", e.clock.Now)
	sec := "sk-moving-pool-0123456789abcdef"
	id := e.add("p", sec)[0]
	e.add("quiet", "sk-quiet-pool-0123456789abcdef")
	p := pool("openai", "openai", before.srv.URL)
	pols := &switchable{cfg: policies(map[string]config.Pool{"p": p})}
	w := e.worker(pols)
	run(t, w)
	testkit.Eventually(t, waitLimit, poll, "the key is checked against the first upstream", func() bool { return before.hitsOf(sec) == 1 })

	p.BaseURL = after.srv.URL
	pols.set(policies(map[string]config.Pool{"p": p, "quiet": pool("openai", "openai", after.srv.URL)}))
	testkit.Eventually(t, waitLimit, poll, "the newly checked pool is checked", func() bool { return after.hitsOf("sk-quiet-pool-0123456789abcdef") == 1 })
	e.clock.Advance(time.Duration(float64(p.Validator.Interval)*(1+p.Validator.Jitter)) + time.Millisecond)
	testkit.Eventually(t, waitLimit, poll, "the key is checked against the new upstream", func() bool { return after.hitsOf(sec) == 1 })
	if n := before.hitsOf(sec); n != 1 {
		t.Fatalf("the old upstream was asked %d times", n)
	}
	if k := e.keys("p")[id]; k.State != store.Active {
		t.Fatalf("key = %s", k.State)
	}
}
