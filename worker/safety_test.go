package worker

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/keybroker/keybroker/failure"
	"github.com/keybroker/keybroker/internal/config"
	"github.com/keybroker/keybroker/internal/store"
)

// safePool is an openai pool on a short, jitter-free schedule, so that a
// test steps the clock second by second through an outage: checks every
// 5s, faults and held keys again after 5s, disabled and quarantined keys
// after 60s, confirmation 10s after the first bad answer, and the default
// brake (10% of the pool, at least 1, per 10m).
func safePool(base string) config.Pool {
	p := pool("openai", "openai", base)
	p.Validator.Interval = config.Duration(5 * time.Second)
	p.Validator.RetryInterval = config.Duration(5 * time.Second)
	p.Validator.DisabledInterval = config.Duration(60 * time.Second)
	p.ConfirmDelay = config.Duration(10 * time.Second)
	return p
}

// step advances the clock a second at a time for d, sweeping after each
// second with answer(t) deciding, before the sweep, how the upstream
// answers at t (time since the start), and calls watch after each sweep.
func (e *env) step(w *Worker, d time.Duration, start time.Time, answer func(t time.Duration), watch func()) {
	e.t.Helper()
	for end := e.clock.Now().Add(d); e.clock.Now().Before(end); e.clock.Advance(time.Second) {
		answer(e.clock.Now().Sub(start))
		e.sweep(w)
		watch()
	}
}

// counts reads a pool's counts.
func (e *env) counts(pool string) store.Counts {
	e.t.Helper()
	c, err := e.st.Counts(context.Background(), pool)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// TestBrokenUpstreamCannotEmptyAPool is the failure that matters: an
// upstream (a relay's bad minute, a wrong base_url, a provider incident)
// answers 401 invalid_api_key to every key of a 10-key pool for 30s. The
// pool quarantines at most the brake's allowance (1 key), deletes none,
// says it holds (state, metric source, one log line), and once the
// upstream answers again every key is active within two disabled
// intervals, with no admin.
func TestBrokenUpstreamCannotEmptyAPool(t *testing.T) {
	e := newEnv(t)
	f := newFake(t, "openai", e.clock.Now)
	secrets := secretsN("sk-outage", 10)
	e.add("p", secrets...)
	p := safePool(f.srv.URL)
	w := e.worker(policies(map[string]config.Pool{"p": p}), withJitterSource(func() float64 { return 0 }))
	ctx := context.Background()
	start := e.clock.Now()
	outage := func(bad bool) func(time.Duration) {
		return func(time.Duration) {
			for _, s := range secrets {
				if bad {
					f.set(s, invalid401)
				} else {
					f.set(s, valid200)
				}
			}
		}
	}
	worst := store.Counts{}
	watch := func() {
		c := e.counts("p")
		if c.Total != 10 {
			t.Fatalf("the pool has %d keys: a key was deleted", c.Total)
		}
		worst.Quarantined = max(worst.Quarantined, c.Quarantined)
	}
	e.step(w, 30*time.Second, start, outage(true), watch)
	if worst.Quarantined != 1 {
		t.Fatalf("%d keys quarantined during the outage; want exactly the brake's allowance, 1", worst.Quarantined)
	}
	h, err := e.st.Hold(ctx, "p", time.Duration(p.RemovalWindow))
	if err != nil || !h.Held() || h.Keys != 9 || h.Reason != "invalid_api_key" {
		t.Fatalf("hold at the end of the outage = %+v, %v; want 9 keys held for invalid_api_key", h, err)
	}
	if n := strings.Count(e.logs.String(), "removals held"); n != 1 {
		t.Fatalf("the hold was logged %d times, want once", n)
	}
	recovered := e.clock.Now()
	e.step(w, 2*time.Duration(p.Validator.DisabledInterval), start, outage(false), watch)
	if c := e.counts("p"); c.Active != 10 {
		t.Fatalf("%v after the upstream recovered: %+v; want every key active", e.clock.Now().Sub(recovered), c)
	}
	if h, _ := e.st.Hold(ctx, "p", time.Duration(p.RemovalWindow)); h.Held() {
		t.Fatalf("still holding after recovery: %+v", h)
	}
}

// TestBlipsCannotConvictKeys: the upstream answers 401 to every key for
// one second in every fifteen. Each blip may make keys suspect, but the
// confirming check, confirm_delay later, finds them valid: nothing is
// quarantined, nothing held, and every key ends active.
func TestBlipsCannotConvictKeys(t *testing.T) {
	e := newEnv(t)
	f := newFake(t, "openai", e.clock.Now)
	secrets := secretsN("sk-blip", 10)
	e.add("p", secrets...)
	p := safePool(f.srv.URL)
	w := e.worker(policies(map[string]config.Pool{"p": p}), withJitterSource(func() float64 { return 0 }))
	suspects := 0
	e.step(w, 2*time.Minute, e.clock.Now(), func(t time.Duration) {
		mode := valid200
		if t%(15*time.Second) < time.Second {
			mode = invalid401
		}
		for _, s := range secrets {
			f.set(s, mode)
		}
	}, func() {
		c := e.counts("p")
		suspects = max(suspects, int(c.Suspect))
		if c.Quarantined != 0 || c.Total != 10 {
			t.Fatalf("a blip convicted keys: %+v", c)
		}
	})
	if suspects == 0 {
		t.Fatal("no blip ever reached a check: the test proves nothing")
	}
	if h, _ := e.st.Hold(context.Background(), "p", time.Duration(p.RemovalWindow)); h.Held() {
		t.Fatalf("blips started a hold: %+v", h)
	}
	e.clock.Advance(time.Duration(p.ConfirmDelay))
	e.sweep(w)
	if c := e.counts("p"); c.Active != 10 {
		t.Fatalf("after the blips %+v, want every key active", c)
	}
}

// TestQuarantinedKeyPurgedAfterRetention: a key that stays invalid is
// quarantined, re-checked, and deleted once quarantine_retention has
// passed, with the purge in its history.
func TestQuarantinedKeyPurgedAfterRetention(t *testing.T) {
	e := newEnv(t)
	f := newFake(t, "openai", e.clock.Now)
	dead, fine := "sk-dead-0123456789abcdef", "sk-fine-0123456789abcdef"
	f.set(dead, invalid401)
	ids := e.add("p", dead, fine)
	p := safePool(f.srv.URL)
	p.QuarantineRetention = config.Duration(time.Hour)
	w := e.worker(policies(map[string]config.Pool{"p": p}), withJitterSource(func() float64 { return 0 }))
	e.sweep(w)
	e.clock.Advance(time.Duration(p.ConfirmDelay))
	e.sweep(w)
	if k := e.keys("p")[ids[0]]; k.State != store.Quarantined {
		t.Fatalf("dead key = %s, want quarantined", k.State)
	}
	e.clock.Advance(time.Duration(p.QuarantineRetention) - time.Minute)
	e.sweep(w)
	if _, ok := e.keys("p")[ids[0]]; !ok {
		t.Fatal("purged before the retention")
	}
	e.clock.Advance(time.Minute)
	e.sweep(w)
	if _, ok := e.keys("p")[ids[0]]; ok {
		t.Fatal("not purged after the retention")
	}
	h := e.history("p", ids[0])
	if h[0].To != store.Removed || h[0].Reason != "quarantine_expired" || h[0].Actor != "broker" {
		t.Fatalf("purge in history = %+v", h[0])
	}
	if s := w.Stats(); s.Purged != 1 {
		t.Fatalf("stats %+v, want one purge", s)
	}
	if !strings.Contains(e.logs.String(), "key purged") {
		t.Fatalf("the purge was not logged:\n%s", e.logs.String())
	}
}

// report applies a caller's report the way ReportFailure does for pool p.
func (e *env) report(p config.Pool, pool, id string, kind failure.Kind, reason string) store.Transition {
	e.t.Helper()
	tr, err := e.st.Report(context.Background(), pool, id, store.Failure{Kind: kind, Reason: reason,
		Recheck: time.Duration(p.Validator.DisabledInterval), Park: time.Duration(p.ReportPark(kind)), MinActive: p.MinActive})
	if err != nil {
		e.t.Fatal(err)
	}
	return tr
}

// TestReportedDisableWaitsForTheDisabledInterval: a key a caller's report
// disables (openai's 429 insufficient_quota) is re-checked after
// disabled_interval, not at the due time it had as an active key.
func TestReportedDisableWaitsForTheDisabledInterval(t *testing.T) {
	e := newEnv(t)
	f := newFake(t, "openai", e.clock.Now)
	sec := "sk-reported-quota-0123456789abcdef"
	ids := e.add("p", sec, "sk-other-0123456789abcdef")
	p := pool("openai", "openai", f.srv.URL)
	p.Validator.Model = "gpt-4o-mini" // the completion probe sees quota
	pol := policies(map[string]config.Pool{"p": p})
	w := e.worker(pol, withJitterSource(func() float64 { return 0 }))
	e.sweep(w) // checked: next in an hour
	f.set(sec, exhaustedQ)
	eff := pol.Pool("p")
	if tr := e.report(eff, "p", ids[0], failure.QuotaExhausted, "insufficient_quota"); tr.To != store.Disabled {
		t.Fatalf("report = %+v", tr)
	}
	hits := f.hitsOf(sec)
	e.clock.Advance(time.Duration(p.Validator.Interval))
	e.sweep(w)
	if f.hitsOf(sec) != hits {
		t.Fatalf("a reported-disabled key was re-checked after interval (%s), before disabled_interval (%s)",
			p.Validator.Interval, p.Validator.DisabledInterval)
	}
	e.clock.Advance(time.Duration(p.Validator.DisabledInterval - p.Validator.Interval))
	e.sweep(w)
	if f.hitsOf(sec) == hits {
		t.Fatal("not re-checked after disabled_interval")
	}
}

// TestBillingCannotClearARegionPark: a caller in a blocked region reports
// 403 unsupported_country_region_territory; a billing check, which cannot
// see regions, must not bring the key back (it would flip-flop every
// check). Only suspect_timeout (nothing can verify it) brings it back.
func TestBillingCannotClearARegionPark(t *testing.T) {
	e := newEnv(t)
	f := newFake(t, "billing", e.clock.Now)
	sec := "sk-region-0123456789abcdef"
	ids := e.add("relay", sec, "sk-relay-other-0123456789abcdef")
	p := pool("billing", "billing", f.srv.URL)
	p.SuspectTimeout = config.Duration(24 * time.Hour)
	pol := policies(map[string]config.Pool{"relay": p})
	w := e.worker(pol, withJitterSource(func() float64 { return 0 }))
	e.sweep(w)
	if tr := e.report(pol.Pool("relay"), "relay", ids[0], failure.PermissionDenied, "unsupported_country_region_territory"); tr.To != store.Disabled {
		t.Fatalf("report = %+v", tr)
	}
	hits := f.hitsOf(sec)
	for range 3 {
		e.clock.Advance(time.Duration(p.Validator.DisabledInterval))
		e.sweep(w)
		if k := e.keys("relay")[ids[0]]; k.State != store.Disabled || k.Reason != "unsupported_country_region_territory" {
			t.Fatalf("a billing check cleared a region park: key %s (%s)", k.State, k.Reason)
		}
	}
	if f.hitsOf(sec) == hits {
		t.Fatal("the parked key was never re-checked: the test proves nothing")
	}
	e.clock.Advance(time.Duration(p.SuspectTimeout))
	if k := e.keys("relay")[ids[0]]; k.State != store.Active {
		t.Fatalf("after suspect_timeout key = %s, want active", k.State)
	}
}
