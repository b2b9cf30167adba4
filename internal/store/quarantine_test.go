package store

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/keybroker/keybroker/failure"
)

const confirmDelay = 30 * time.Second

// brake10 is the default brake: 10% of the pool (at least 1) per 10m.
var brake10 = Brake{Percent: 10, Window: 10 * time.Minute}

// strike applies one check answer "invalid" as the worker would, with the
// default brake and a 30s confirm delay.
func strike(t *testing.T, f fixture, id string) Transition {
	t.Helper()
	ctx := context.Background()
	keys, err := f.st.List(ctx, "p", Query{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	seen := Active
	for _, k := range keys.Keys {
		if k.ID == id {
			seen = k.State
		}
	}
	tr, err := f.st.Apply(ctx, "p", id, Check{Seen: seen, Kind: failure.InvalidKey, Reason: "invalid_api_key",
		Next: every, Actor: "worker", ConfirmDelay: confirmDelay, Brake: brake10})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func stateOf(t *testing.T, f fixture, id string) Key {
	t.Helper()
	page, err := f.st.List(context.Background(), "p", Query{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range page.Keys {
		if k.ID == id {
			return k
		}
	}
	t.Fatalf("key %s is gone", id)
	return Key{}
}

// TestConfirmWaitsForTheDelay: a broken upstream's blip answers one check
// invalid; the confirming check cannot come before confirm_delay, and one
// that runs early (a lapsed claim) decides nothing.
func TestConfirmWaitsForTheDelay(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ids := f.add(t, "p", 10)
	if tr := strike(t, f, ids[0]); tr.To != Suspect {
		t.Fatalf("first strike = %+v", tr)
	}
	due, _ := f.rdb.ZScore(ctx, "kb:{p}:due", ids[0]).Result()
	if want := f.clock.Now().Add(confirmDelay).UnixMilli(); int64(due) != want {
		t.Fatalf("confirming check due at %v, want %v", int64(due), want)
	}
	f.clock.Advance(confirmDelay - time.Second)
	if tr := strike(t, f, ids[0]); tr.To != Suspect {
		t.Fatalf("an early second answer = %+v; want still suspect", tr)
	}
	f.clock.Advance(time.Second)
	if tr := strike(t, f, ids[0]); tr.To != Quarantined {
		t.Fatalf("the confirming answer = %+v; want quarantined", tr)
	}
	checkInvariants(t, f.rdb, "p")
}

// TestBlipCannotConvict: the first bad answer, then a valid one at the
// confirming check: the key is active and its first strike forgotten.
func TestBlipCannotConvict(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ids := f.add(t, "p", 1)
	strike(t, f, ids[0])
	f.clock.Advance(confirmDelay)
	tr, err := f.st.Apply(ctx, "p", ids[0], Check{Seen: Suspect, Valid: true, Reason: "verified", Next: every, Actor: "w"})
	if err != nil || tr.To != Active {
		t.Fatalf("valid after a blip = %+v, %v", tr, err)
	}
	f.clock.Advance(time.Hour)
	if tr := strike(t, f, ids[0]); tr.To != Suspect {
		t.Fatalf("a later bad answer = %+v; want a fresh first strike", tr)
	}
}

// TestBrakeHoldsAfterTheAllowance: a broken upstream answers 401 to every
// key of a 10-key pool; the brake lets one key be quarantined, holds the
// others suspect, says so, and lifts by itself once the held keys check
// valid again.
func TestBrakeHoldsAfterTheAllowance(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ids := f.add(t, "p", 10)
	for _, id := range ids {
		strike(t, f, id)
	}
	f.clock.Advance(confirmDelay)
	var quarantined, held, started int
	for _, id := range ids {
		tr := strike(t, f, id)
		switch {
		case tr.To == Quarantined:
			quarantined++
		case tr.To == Suspect && tr.Brake != "":
			held++
			if tr.Brake == BrakeHoldStarted {
				started++
			}
		default:
			t.Fatalf("confirming strike = %+v", tr)
		}
	}
	if quarantined != 1 || held != 9 || started != 1 {
		t.Fatalf("quarantined %d, held %d (hold started %d times); want 1, 9, 1", quarantined, held, started)
	}
	h, err := f.st.Hold(ctx, "p", brake10.Window)
	if err != nil || !h.Held() || h.Keys != 9 || h.Reason != "invalid_api_key" || h.Recent != 1 {
		t.Fatalf("Hold = %+v, %v", h, err)
	}
	checkInvariants(t, f.rdb, "p")

	// The window passing does not release a hold: only valid answers or
	// an admin do.
	f.clock.Advance(time.Hour)
	if tr := strike(t, f, ids[1]); tr.To == Quarantined {
		t.Fatalf("a held key was quarantined after the window: %+v", tr)
	}
	var last Transition
	for _, id := range ids {
		if stateOf(t, f, id).State != Suspect {
			continue
		}
		last, _ = f.st.Apply(ctx, "p", id, Check{Seen: Suspect, Valid: true, Reason: "verified", Next: every, Actor: "w"})
	}
	if last.Brake != BrakeHoldLifted {
		t.Fatalf("the last held key's valid check = %+v; want the hold lifted", last)
	}
	if h, _ := f.st.Hold(ctx, "p", brake10.Window); h.Held() {
		t.Fatalf("hold after every held key checked valid: %+v", h)
	}
	checkInvariants(t, f.rdb, "p")
}

// TestQuarantinedKeyReturnsWhenValid: re-checked every disabled interval,
// back to active on a valid answer, with nobody's help.
func TestQuarantinedKeyReturnsWhenValid(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ids := f.add(t, "p", 1)
	strike(t, f, ids[0])
	f.clock.Advance(confirmDelay)
	strike(t, f, ids[0])
	if got := claimIDs(t, f, 10); len(got) != 0 {
		t.Fatalf("a quarantined key was due before the disabled interval: %v", got)
	}
	f.clock.Advance(every.Disabled)
	if got := claimIDs(t, f, 10); !slices.Equal(got, ids) {
		t.Fatalf("claimed %v after the disabled interval, want %v", got, ids)
	}
	if tr := strike(t, f, ids[0]); tr.To != Quarantined {
		t.Fatalf("still invalid = %+v", tr)
	}
	tr, err := f.st.Apply(ctx, "p", ids[0], Check{Seen: Quarantined, Valid: true, Reason: "verified", Next: every, Actor: "w"})
	if err != nil || tr.To != Active {
		t.Fatalf("valid = %+v, %v", tr, err)
	}
	checkInvariants(t, f.rdb, "p")
}

// TestReportsCannotTouchQuarantinedKeys: a caller reporting a quarantined
// key (by key id) cannot move it anywhere.
func TestReportsCannotTouchQuarantinedKeys(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ids := f.add(t, "p", 2)
	strike(t, f, ids[0])
	f.clock.Advance(confirmDelay)
	strike(t, f, ids[0])
	for _, k := range []failure.Kind{failure.InvalidKey, failure.QuotaExhausted, failure.PermissionDenied, failure.RateLimited} {
		tr, err := f.st.Report(ctx, "p", ids[0], Failure{Kind: k, Reason: "x", Until: f.clock.Now().Add(time.Minute)})
		if err != nil || tr.To != Quarantined {
			t.Fatalf("report %s = %+v, %v", k, tr, err)
		}
	}
}

// TestRestore: an admin restores one key by id, then every quarantined key
// of the pool; each is active and due for a check at once.
func TestRestore(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ids := f.add(t, "p", 4)
	if _, err := f.st.Apply(ctx, "p", ids[3], Check{Seen: Active, Valid: true, Reason: "verified", Next: every, Actor: "w"}); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids[:3] {
		strike(t, f, id)
	}
	f.clock.Advance(confirmDelay)
	for _, id := range ids[:3] {
		if tr, err := f.st.Apply(ctx, "p", id, Check{Seen: Suspect, Kind: failure.InvalidKey, Reason: "invalid_api_key",
			Next: every, ConfirmDelay: confirmDelay, Actor: "w"}); err != nil || tr.To != Quarantined {
			t.Fatalf("confirm = %+v, %v", tr, err)
		}
	}
	res, err := f.st.As("ops").Restore(ctx, "p", []string{ids[0], ids[3], "0123456789abcdef"})
	if err != nil || !slices.Equal(res.Restored, ids[:1]) || !slices.Equal(res.Unchanged, ids[3:]) || len(res.NotFound) != 1 {
		t.Fatalf("Restore = %+v, %v", res, err)
	}
	all, err := f.st.RestoreQuarantined(ctx, "p")
	slices.Sort(all)
	if want := slices.Sorted(slices.Values(ids[1:3])); err != nil || !slices.Equal(all, want) {
		t.Fatalf("RestoreQuarantined = %v, %v; want %v", all, err, want)
	}
	for _, id := range ids {
		if k := stateOf(t, f, id); k.State != Active {
			t.Fatalf("key %s is %s after restore", id, k.State)
		}
	}
	due := claimIDs(t, f, 10)
	slices.Sort(due)
	if want := slices.Sorted(slices.Values(ids[:3])); !slices.Equal(due, want) {
		t.Fatalf("due after restore %v, want the restored %v", due, want)
	}
	h := f.history(t, ids[0])
	if h[0].To != Active || h[0].From != Quarantined || h[0].Reason != "restored_by_admin" || h[0].Actor != "admin:ops" {
		t.Fatalf("history = %+v", h[0])
	}
	checkInvariants(t, f.rdb, "p")
}

// TestReleaseRemovals: an admin who knows the held keys are dead releases
// the hold: they are quarantined at once and the window starts afresh.
func TestReleaseRemovals(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ids := f.add(t, "p", 5)
	for _, id := range ids {
		strike(t, f, id)
	}
	f.clock.Advance(confirmDelay)
	for _, id := range ids {
		strike(t, f, id)
	}
	released, err := f.st.ReleaseRemovals(ctx, "p", every.Disabled)
	if err != nil || len(released) != 4 {
		t.Fatalf("ReleaseRemovals = %v, %v; want the 4 held keys", released, err)
	}
	c, _ := f.st.Counts(ctx, "p")
	if c.Quarantined != 5 {
		t.Fatalf("counts after release %+v", c)
	}
	if h, _ := f.st.Hold(ctx, "p", brake10.Window); h.Held() || h.Recent != 0 {
		t.Fatalf("hold after release %+v", h)
	}
	checkInvariants(t, f.rdb, "p")
}

// TestPurgeAfterRetention: quarantined keys are kept for the retention
// and then deleted, audited as the broker's; other keys are untouched.
func TestPurgeAfterRetention(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ids := f.add(t, "p", 2)
	strike(t, f, ids[0])
	f.clock.Advance(confirmDelay)
	strike(t, f, ids[0])
	const retention = 7 * 24 * time.Hour
	f.clock.Advance(retention - time.Minute)
	if got, err := f.st.Purge(ctx, "p", retention); err != nil || len(got) != 0 {
		t.Fatalf("Purge before the retention = %v, %v", got, err)
	}
	f.clock.Advance(time.Minute)
	got, err := f.st.Purge(ctx, "p", retention)
	if err != nil || !slices.Equal(got, ids[:1]) {
		t.Fatalf("Purge = %v, %v", got, err)
	}
	c, _ := f.st.Counts(ctx, "p")
	if c.Total != 1 || c.Active != 1 {
		t.Fatalf("counts after purge %+v", c)
	}
	h := f.history(t, ids[0])
	if h[0].To != Removed || h[0].From != Quarantined || h[0].Reason != "quarantine_expired" || h[0].Actor != "broker" {
		t.Fatalf("purge audit = %+v", h[0])
	}
	checkInvariants(t, f.rdb, "p")
}

// TestReportParkIsBounded: in a pool no validator checks, a client token
// that reports every key invalid parks each for at most the bound, never
// the last MinActive, and reporting again does not stretch the park.
func TestReportParkIsBounded(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ids := f.add(t, "p", 3)
	const park = 10 * time.Minute
	rep := Failure{Kind: failure.InvalidKey, Reason: "invalid_api_key", Park: park, MinActive: 1}
	var floored int
	for range 3 { // a flood: every key, three times
		for _, id := range ids {
			tr, err := f.st.Report(ctx, "p", id, rep)
			if err != nil {
				t.Fatal(err)
			}
			if tr.Floor {
				floored++
			}
		}
		f.clock.Advance(time.Minute)
	}
	c, _ := f.st.Counts(ctx, "p")
	if c.Active != 1 || c.Suspect != 2 || floored != 3 {
		t.Fatalf("after the flood %+v (%d reports floored); want 1 active, 2 suspect, 3 floored", c, floored)
	}
	f.clock.Advance(park - 3*time.Minute)
	if err := f.st.Wake(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	if c, _ := f.st.Counts(ctx, "p"); c.Active != 3 {
		t.Fatalf("after the park bound %+v; want every key active", c)
	}
	checkInvariants(t, f.rdb, "p")
}

// TestReportDisableIsRecheckedAfterDisabledInterval: a key a caller's
// report disables gets the disabled interval, not its old due time.
func TestReportDisableIsRecheckedAfterDisabledInterval(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ids := f.add(t, "p", 2)
	if _, err := f.st.Apply(ctx, "p", ids[0], Check{Seen: Active, Valid: true, Reason: "verified", Next: every, Actor: "w"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.Report(ctx, "p", ids[0], Failure{Kind: failure.PermissionDenied, Reason: "unsupported_country_region_territory",
		Recheck: every.Disabled}); err != nil {
		t.Fatal(err)
	}
	due, _ := f.rdb.ZScore(ctx, "kb:{p}:due", ids[0]).Result()
	if want := f.clock.Now().Add(every.Disabled).UnixMilli(); int64(due) != want {
		t.Fatalf("re-check due in %v, want the disabled interval %v",
			time.Duration(int64(due)-f.clock.Now().UnixMilli())*time.Millisecond, every.Disabled)
	}
}

// TestValidatorThatCannotSeeARefusalDoesNotClearIt: a region 403 a caller
// reported is not cleared by a billing check, which cannot see regions;
// a quota park is.
func TestValidatorThatCannotSeeARefusalDoesNotClearIt(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ids := f.add(t, "p", 3)
	billing := []failure.Kind{failure.InvalidKey, failure.QuotaExhausted}
	if _, err := f.st.Report(ctx, "p", ids[0], Failure{Kind: failure.PermissionDenied, Reason: "unsupported_country_region_territory"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.Report(ctx, "p", ids[1], Failure{Kind: failure.QuotaExhausted, Reason: "insufficient_quota"}); err != nil {
		t.Fatal(err)
	}
	for i, want := range []State{Disabled, Active} {
		tr, err := f.st.Apply(ctx, "p", ids[i], Check{Seen: Disabled, Valid: true, Reason: "verified", Next: every, Actor: "w", Observes: billing})
		if err != nil || tr.To != want {
			t.Fatalf("billing check of key %d = %+v, %v; want %s", i, tr, err, want)
		}
	}
	tr, _ := f.st.Apply(ctx, "p", ids[0], Check{Seen: Disabled, Valid: true, Reason: "verified", Next: every, Actor: "w",
		Observes: []failure.Kind{failure.InvalidKey, failure.PermissionDenied}})
	if tr.To != Active {
		t.Fatalf("a probe that sees permissions = %+v; want active", tr)
	}
	checkInvariants(t, f.rdb, "p")
}

func (f fixture) history(t *testing.T, id string) []AuditEntry {
	t.Helper()
	h, _, err := f.st.History(context.Background(), "p", HistoryQuery{KeyID: id, Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	return h
}
