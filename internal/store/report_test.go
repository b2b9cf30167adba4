package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keybroker/keybroker/failure"
)

// setState drives a fresh key into a state through the public API.
func setState(t *testing.T, f fixture, id string, st State) {
	t.Helper()
	ctx := context.Background()
	far := f.clock.Now().Add(time.Hour)
	var kind failure.Kind
	switch st {
	case Active:
		return
	case CoolingDown:
		kind = failure.RateLimited
	case Disabled:
		kind = failure.QuotaExhausted
		far = time.Time{}
	case Suspect:
		kind = failure.InvalidKey
	}
	tr, err := f.st.Report(ctx, "p", id, Failure{Kind: kind, Reason: "setup", Until: far})
	if err != nil || tr.To != st {
		t.Fatalf("setup to %s: %+v, %v", st, tr, err)
	}
}

func TestReportTransitions(t *testing.T) {
	tests := []struct {
		from State
		kind failure.Kind
		to   State
	}{
		{Active, failure.RateLimited, CoolingDown},
		{Active, failure.QuotaExhausted, Disabled},
		{Active, failure.PermissionDenied, Disabled},
		{Active, failure.InvalidKey, Suspect},
		{Active, failure.Transient, Active},
		{Active, failure.Unclassified, Active},
		{CoolingDown, failure.RateLimited, CoolingDown},
		{CoolingDown, failure.QuotaExhausted, Disabled},
		{CoolingDown, failure.InvalidKey, Suspect},
		{CoolingDown, failure.Transient, CoolingDown},
		{Disabled, failure.RateLimited, Disabled},
		{Disabled, failure.InvalidKey, Suspect},
		{Disabled, failure.Transient, Disabled},
		{Suspect, failure.RateLimited, Suspect},
		{Suspect, failure.QuotaExhausted, Suspect},
		{Suspect, failure.PermissionDenied, Suspect},
		{Suspect, failure.Transient, Suspect},
	}
	f := newFixture(t)
	ctx := context.Background()
	for i, tt := range tests {
		t.Run(string(tt.from)+"/"+tt.kind.String(), func(t *testing.T) {
			id := f.add(t, "p", len(tests))[i]
			setState(t, f, id, tt.from)
			tr, err := f.st.Report(ctx, "p", id, Failure{Kind: tt.kind, Reason: "because", Until: f.clock.Now().Add(time.Minute)})
			if err != nil {
				t.Fatal(err)
			}
			if tr.From != tt.from || tr.To != tt.to {
				t.Fatalf("Report = %s → %s, want %s → %s", tr.From, tr.To, tt.from, tt.to)
			}
			changed := tt.kind != failure.Transient && tt.kind != failure.Unclassified && tt.from != Suspect &&
				(tt.from != Disabled || tt.kind != failure.RateLimited)
			if changed && tr.Reason != "because" || !changed && tr.Reason == "because" {
				t.Fatalf("reason = %q; a state change records the new reason, no change keeps the old", tr.Reason)
			}
			checkInvariants(t, f.rdb, "p")
		})
	}
	page, err := f.st.List(ctx, "p", Query{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var failures int64
	for _, k := range page.Keys {
		failures += k.Failures
	}
	if want := int64(len(tests)) + 11; failures != want { // 11 setup reports for non-active starts
		t.Fatalf("failure counts sum to %d, want %d", failures, want)
	}
}

func TestReportCoolingKeepsTheLaterEnd(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	id := f.add(t, "p", 1)[0]
	now := f.clock.Now()
	if _, err := f.st.Report(ctx, "p", id, Failure{Kind: failure.RateLimited, Reason: "a", Until: now.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	tr, _ := f.st.Report(ctx, "p", id, Failure{Kind: failure.RateLimited, Reason: "b", Until: now.Add(time.Second)})
	if !tr.Until.Equal(now.Add(time.Minute)) {
		t.Fatalf("a shorter cooldown moved the end to %v", tr.Until)
	}
	tr, _ = f.st.Report(ctx, "p", id, Failure{Kind: failure.RateLimited, Reason: "c", Until: now.Add(time.Hour)})
	if !tr.Until.Equal(now.Add(time.Hour)) {
		t.Fatalf("a longer cooldown did not extend the end: %v", tr.Until)
	}
}

func TestTimedDisableReturnsAtReset(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	id := f.add(t, "p", 1)[0]
	reset := f.clock.Now().Add(5 * time.Hour)
	if _, err := f.st.Report(ctx, "p", id, Failure{Kind: failure.QuotaExhausted, Reason: "daily_quota_exceeded", Until: reset}); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(5*time.Hour - time.Millisecond)
	if _, err := f.st.Pick(ctx, "p"); err == nil {
		t.Fatal("picked a disabled key before its reset")
	}
	f.clock.Advance(time.Millisecond)
	if err := f.st.Wake(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	page, _ := f.st.List(ctx, "p", Query{State: Active, Limit: 1})
	if len(page.Keys) != 1 || page.Keys[0].Reason != "recovered" {
		t.Fatalf("after the reset: %+v", page.Keys)
	}
	checkInvariants(t, f.rdb, "p")
}

func TestReportUnknownKey(t *testing.T) {
	f := newFixture(t)
	_, err := f.st.Report(context.Background(), "p", "00000000000000aa", Failure{Kind: failure.RateLimited})
	if !errors.Is(err, ErrKeyUnknown) {
		t.Fatalf("Report on unknown key = %v, want ErrKeyUnknown", err)
	}
}

// A report applied twice (a retry after a lost reply, a replay after an
// outage) counts and changes the key once.
func TestReportWithIDIsAppliedOnce(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	id := f.add(t, "p", 1)[0]
	r := Failure{Kind: failure.InvalidKey, Reason: "invalid_api_key", ID: "report-0001"}
	first, err := f.st.Report(ctx, "p", id, r)
	if err != nil || first.To != Suspect {
		t.Fatalf("first = %+v, %v", first, err)
	}
	again, err := f.st.Report(ctx, "p", id, r)
	if err != nil || again.From != Suspect || again.To != Suspect {
		t.Fatalf("again = %+v, %v", again, err)
	}
	other := Failure{Kind: failure.Transient, Reason: "http_503", ID: "report-0002"}
	if _, err := f.st.Report(ctx, "p", id, other); err != nil {
		t.Fatal(err)
	}
	page, _ := f.st.List(ctx, "p", Query{Limit: 1})
	if page.Keys[0].Failures != 2 {
		t.Fatalf("failure count %d, want 2 (the repeated report counts once)", page.Keys[0].Failures)
	}
	hist, _, err := f.st.History(ctx, "p", HistoryQuery{KeyID: id, Limit: 10})
	if err != nil || len(hist) != 2 {
		t.Fatalf("history = %+v, %v; want added and suspect, once each", hist, err)
	}
}
