package worker

import (
	"reflect"
	"testing"
	"time"

	"github.com/keybroker/keybroker/internal/config"
	"github.com/keybroker/keybroker/internal/store"
)

// outcome is what one sweep should leave a key as; fault means exactly as
// it was before.
type outcome struct {
	mode   string
	state  store.State
	reason string
	fault  bool
}

var faults = []outcome{
	{mode: fault500, fault: true},
	{mode: fault503, fault: true},
	{mode: faultTimeout, fault: true},
	{mode: faultReset, fault: true},
	{mode: faultGarbage, fault: true},
	{mode: faultErr200, fault: true},
}

// dialectCases is, per validator, how its provider's answers must move a
// key. Models are set so that the quota-spending probes run too.
var dialectCases = []struct {
	dialect, kind, model string
	outcomes             []outcome
}{
	{"billing", "billing", "", append([]outcome{
		{mode: valid200, state: store.Active, reason: "added"},
		{mode: invalid401, state: store.Quarantined, reason: "http_401"},
		{mode: invalid200, state: store.Quarantined, reason: "invalid_api_key"},
		{mode: exhaustedQ, state: store.Disabled, reason: "usage_limit_reached"},
		{mode: exhausted200, state: store.Disabled, reason: "insufficient_quota"},
		{mode: expiredSub, state: store.Disabled, reason: "subscription_expired"},
		{mode: rateLimited, state: store.CoolingDown, reason: "rate_limit_exceeded"},
	}, faults...)},
	{"openai", "openai", "gpt-4o-mini", append([]outcome{
		{mode: valid200, state: store.Active, reason: "added"},
		{mode: invalid401, state: store.Quarantined, reason: "invalid_api_key"},
		{mode: exhaustedQ, state: store.Disabled, reason: "insufficient_quota"},
		{mode: rateLimited, state: store.CoolingDown, reason: "rate_limit_exceeded"},
	}, faults...)},
	{"anthropic", "anthropic", "", append([]outcome{
		{mode: valid200, state: store.Active, reason: "added"},
		{mode: invalid401, state: store.Quarantined, reason: "authentication_error"},
		{mode: exhaustedQ, state: store.Disabled, reason: "credit_balance_too_low"},
		{mode: rateLimited, state: store.CoolingDown, reason: "rate_limit_error"},
	}, faults...)},
	{"gemini", "gemini", "gemini-2.0-flash", append([]outcome{
		{mode: valid200, state: store.Active, reason: "added"},
		{mode: invalid401, state: store.Quarantined, reason: "api_key_invalid"},
		{mode: exhaustedQ, state: store.Disabled, reason: "daily_quota_exceeded"},
		{mode: rateLimited, state: store.CoolingDown, reason: "resource_exhausted"},
	}, faults...)},
}

// TestValidatorsAgainstFakes checks one key per provider answer with a
// sweep and compares what the store holds afterwards: valid keys are
// checked and kept, invalid ones quarantined after a second look
// confirm_delay later, exhausted
// ones disabled, rate-limited ones cooled down, and every fault leaves the
// key exactly as it was.
func TestValidatorsAgainstFakes(t *testing.T) {
	e := newEnv(t)
	for _, dc := range dialectCases {
		f := newFake(t, dc.dialect, e.clock.Now)
		for _, oc := range dc.outcomes {
			t.Run(dc.dialect+"/"+oc.mode, func(t *testing.T) {
				name := dc.dialect + "-" + oc.mode
				p := pool(dc.dialect, dc.kind, f.srv.URL)
				p.Validator.Model = dc.model
				if oc.mode == faultTimeout {
					p.Validator.Timeout = shortTimeout
				}
				sec := "sk-" + name + "-0123456789abcdef"
				f.set(sec, oc.mode)
				id := e.add(name, sec)[0]
				before := e.keys(name)
				w := e.worker(policies(map[string]config.Pool{name: p}))
				e.sweep(w)
				if f.hitsOf(sec) == 0 {
					t.Fatal("the fake was never asked")
				}
				if oc.state == store.Quarantined { // the confirming check, confirm_delay later
					if k := e.keys(name)[id]; k.State != store.Suspect {
						t.Fatalf("after the first bad answer key = %s, want suspect", k.State)
					}
					e.clock.Advance(time.Duration(policies(map[string]config.Pool{name: p}).Pool(name).ConfirmDelay))
					e.sweep(w)
				}
				after := e.keys(name)
				if oc.fault {
					checkUnchanged(t, e, name, id, before, after, w.Stats())
					return
				}
				checkOutcome(t, e, name, id, oc, after)
			})
		}
	}
}

func checkUnchanged(t *testing.T, e *env, pool, id string, before, after map[string]store.Key, s Stats) {
	t.Helper()
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("a fault changed the key:\nbefore %+v\nafter  %+v", before[id], after[id])
	}
	if h := e.history(pool, id); len(h) != 1 {
		t.Fatalf("a fault wrote to the audit trail: %+v", h)
	}
	if s.Faults != 1 || s.Changed != 0 {
		t.Fatalf("stats = %+v, want one fault and no change", s)
	}
}

func checkOutcome(t *testing.T, e *env, pool, id string, oc outcome, after map[string]store.Key) {
	t.Helper()
	h := e.history(pool, id)
	if oc.state == store.Quarantined {
		if k := after[id]; k.State != store.Quarantined || k.Secret == "" {
			t.Fatalf("key %+v not quarantined with its secret kept", after[id])
		}
		if len(h) != 3 || h[1].To != store.Suspect || h[0].To != store.Quarantined || h[0].Reason != oc.reason || h[0].Actor != "worker" {
			t.Fatalf("history = %+v, want active → suspect → quarantined (%s) by the worker", h, oc.reason)
		}
		return
	}
	k := after[id]
	if k.State != oc.state || k.Reason != oc.reason || k.LastValidated.IsZero() {
		t.Fatalf("key = %s (%s), validated %v; want %s (%s)", k.State, k.Reason, k.LastValidated, oc.state, oc.reason)
	}
	if oc.state != store.Active && (len(h) != 2 || h[0].To != oc.state || h[0].Actor != "worker") {
		t.Fatalf("history = %+v, want the worker's change to %s on top", h, oc.state)
	}
}

// TestBillingRecordsTheBalance: GetAll shows limit, usage and expiry.
func TestBillingRecordsTheBalance(t *testing.T) {
	e := newEnv(t)
	f := newFake(t, "billing", e.clock.Now)
	sec := "sk-relay-balance-0123456789abcdef"
	f.setBalance(sec, 25, 1250) // $25 limit, $12.50 used
	id := e.add("relay", sec)[0]
	e.sweep(e.worker(policies(map[string]config.Pool{"relay": pool("billing", "billing", f.srv.URL)})))
	k := e.keys("relay")[id]
	if k.State != store.Active || k.Balance == nil || k.Balance.LimitUSD != 25 || k.Balance.UsedUSD != 12.5 || !k.Balance.Expires.IsZero() {
		t.Fatalf("key = %+v, balance %+v", k, k.Balance)
	}
	f.set(sec, expiredSub)
	e.clock.Advance(2 * time.Hour)
	e.sweep(e.worker(policies(map[string]config.Pool{"relay": pool("billing", "billing", f.srv.URL)})))
	k = e.keys("relay")[id]
	if k.State != store.Disabled || k.Balance.Expires.IsZero() || k.Balance.Expires.After(e.clock.Now()) {
		t.Fatalf("after expiry key = %+v, balance %+v", k, k.Balance)
	}
}

// TestGeminiDailyQuotaReturnsAtTheReset: a per-day quota, in the shape
// Gemini sends it (an ErrorInfo RATE_LIMIT_EXCEEDED before the per-day
// QuotaFailure), parks the key until the next Pacific midnight, through
// every re-check of the day, and never as a cooldown that lapses and
// sends it back to be refused again; at the reset the broker returns it by
// itself.
func TestGeminiDailyQuotaReturnsAtTheReset(t *testing.T) {
	e := newEnv(t)
	f := newFake(t, "gemini", e.clock.Now)
	sec := "AIza-daily-quota-0123456789abcdef"
	f.set(sec, exhaustedQ)
	id := e.add("g", sec)[0]
	p := pool("gemini", "gemini", f.srv.URL)
	p.Validator.Model = "gemini-2.0-flash"
	w := e.worker(policies(map[string]config.Pool{"g": p}))
	e.sweep(w)
	k := e.keys("g")[id]
	la, _ := time.LoadLocation("America/Los_Angeles")
	if u := k.Until.In(la); k.State != store.Disabled || k.Reason != "daily_quota_exceeded" || u.Hour() != 0 || u.Minute() != 0 || !k.Until.After(e.clock.Now()) {
		t.Fatalf("key = %s (%s) until %v", k.State, k.Reason, k.Until)
	}
	reset := k.Until
	hits := f.hitsOf(sec)
	for e.clock.Now().Add(30 * time.Minute).Before(reset) { // the day passes: the key stays parked
		e.clock.Advance(30 * time.Minute)
		e.sweep(w)
		if k := e.keys("g")[id]; k.State != store.Disabled || !k.Until.Equal(reset) {
			t.Fatalf("at %v key = %s until %v; want disabled until %v", e.clock.Now(), k.State, k.Until, reset)
		}
	}
	if f.hitsOf(sec) == hits {
		t.Fatal("the key was never re-checked during the day")
	}
	for _, h := range e.history("g", id) {
		if h.To == store.CoolingDown {
			t.Fatalf("the per-day quota was read as a cooldown: %+v", e.history("g", id))
		}
	}
	e.clock.Advance(reset.Sub(e.clock.Now()))
	if k := e.keys("g")[id]; k.State != store.Active || k.Reason != "recovered" {
		t.Fatalf("after the reset key = %s (%s)", k.State, k.Reason)
	}
}

// TestOpenAIWithoutModelOnlyListsModels: no model, no tokens spent.
func TestOpenAIWithoutModelOnlyListsModels(t *testing.T) {
	e := newEnv(t)
	f := newFake(t, "openai", e.clock.Now)
	sec := "sk-no-model-0123456789abcdef"
	f.set(sec, exhaustedQ) // only the chat completion would say so
	id := e.add("o", sec)[0]
	e.sweep(e.worker(policies(map[string]config.Pool{"o": pool("openai", "openai", f.srv.URL)})))
	if k := e.keys("o")[id]; k.State != store.Active || f.hitsOf(sec) != 1 {
		t.Fatalf("key = %s after %d requests; want active after one models list", k.State, f.hitsOf(sec))
	}
}
