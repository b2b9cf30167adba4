package store

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/keybroker/keybroker/failure"
)

const hold = time.Minute

var every = Schedule{Active: time.Hour, Disabled: 6 * time.Hour, Retry: 10 * time.Minute}

func claimIDs(t *testing.T, f fixture, limit int) []string {
	t.Helper()
	c, err := f.st.Claim(context.Background(), "p", limit, hold)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(c.Keys))
	for i, k := range c.Keys {
		ids[i] = k.ID
		if k.Secret == "" || !k.State.Valid() {
			t.Fatalf("claimed %+v", k)
		}
	}
	return ids
}

func TestClaimHoldsKeysUntilApplyOrLapse(t *testing.T) {
	f := newFixture(t)
	ids := f.add(t, "p", 5)
	first := claimIDs(t, f, 3)
	second := claimIDs(t, f, 10)
	if len(first) != 3 || len(second) != 2 || slices.ContainsFunc(second, func(id string) bool { return slices.Contains(first, id) }) {
		t.Fatalf("claims overlap or miss keys: %v then %v", first, second)
	}
	if again := claimIDs(t, f, 10); len(again) != 0 {
		t.Fatalf("held keys claimed again: %v", again)
	}
	// One result is applied; the other claims lapse after the hold.
	if _, err := f.st.Apply(context.Background(), "p", first[0], Check{Seen: Active, Valid: true, Reason: "verified", Next: every, Actor: "w"}); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(hold)
	lapsed := claimIDs(t, f, 10)
	slices.Sort(lapsed)
	want := slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return id == first[0] })
	slices.Sort(want)
	if !slices.Equal(lapsed, want) {
		t.Fatalf("after the hold claimed %v, want %v", lapsed, want)
	}
	if got := claimIDs(t, f, 10); len(got) != 0 {
		t.Fatalf("claimed %v before the interval passed", got)
	}
	f.clock.Advance(every.Active - hold)
	if got := claimIDs(t, f, 10); !slices.Contains(got, first[0]) {
		t.Fatalf("after the interval claimed %v, want the checked key %s among them", got, first[0])
	}
	checkInvariants(t, f.rdb, "p")
}

func TestClaimPutsSuspectKeysFirstAndSkipsCooling(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ids := f.add(t, "p", 4)
	f.clock.Advance(time.Second)
	setState(t, f, ids[3], Suspect)
	setState(t, f, ids[1], CoolingDown) // until now + 1h
	c, err := f.st.Claim(ctx, "p", 1, hold)
	if err != nil || len(c.Keys) != 1 || c.Keys[0].ID != ids[3] || c.Keys[0].State != Suspect {
		t.Fatalf("first claim = %+v, %v; want the suspect key", c, err)
	}
	rest := claimIDs(t, f, 10)
	if slices.Contains(rest, ids[1]) || len(rest) != 2 {
		t.Fatalf("claimed %v; the cooling key %s must wait", rest, ids[1])
	}
	f.clock.Advance(time.Hour)
	if got := claimIDs(t, f, 10); !slices.Contains(got, ids[1]) {
		t.Fatalf("the cooled key was not claimed after its cooldown: %v", got)
	}
}

// TestClaimsAreDisjointUnderContention has ten claimers race for 500 keys:
// every key is handed out exactly once.
func TestClaimsAreDisjointUnderContention(t *testing.T) {
	f := newFixture(t)
	f.add(t, "p", 500)
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			for {
				c, err := f.st.Claim(context.Background(), "p", 7, hold)
				if err != nil {
					t.Error(err)
					return
				}
				if c.Looked == 0 {
					return
				}
				mu.Lock()
				for _, k := range c.Keys {
					seen[k.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != 500 {
		t.Fatalf("claimed %d distinct keys, want 500", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("key %s claimed %d times", id, n)
		}
	}
}

func TestApplyTransitions(t *testing.T) {
	const confirm = 30 * time.Second
	tests := []struct {
		name   string
		from   State
		valid  bool
		kind   failure.Kind
		remove bool
		to     State
		next   time.Duration // from now; -1: at once (score 0)
	}{
		{"active valid", Active, true, 0, false, Active, every.Active},
		{"suspect valid", Suspect, true, 0, false, Active, every.Active},
		{"disabled valid", Disabled, true, 0, false, Active, every.Active},
		// The confirming check comes confirm_delay after the first bad
		// answer; a caller's report (how setState makes keys suspect) is
		// not one.
		{"active invalid is a first strike", Active, false, failure.InvalidKey, false, Suspect, confirm},
		{"disabled invalid is a first strike", Disabled, false, failure.InvalidKey, false, Suspect, confirm},
		{"reported suspect invalid is a first strike", Suspect, false, failure.InvalidKey, false, Suspect, confirm},
		{"active exhausted", Active, false, failure.QuotaExhausted, false, Disabled, every.Disabled},
		{"suspect exhausted", Suspect, false, failure.QuotaExhausted, false, Disabled, every.Disabled},
		{"exhausted quarantined by policy", Active, false, failure.QuotaExhausted, true, Quarantined, every.Disabled},
		{"permission", Active, false, failure.PermissionDenied, true, Disabled, every.Disabled},
		// Checked again no sooner than the retry delay, even when the
		// cooldown (5m) ends first: probes cost money.
		{"active rate limited", Active, false, failure.RateLimited, false, CoolingDown, every.Retry},
		{"suspect rate limited waits", Suspect, false, failure.RateLimited, false, Suspect, every.Retry},
		{"active fault", Active, false, failure.Transient, false, Active, every.Retry},
		{"suspect fault", Suspect, false, failure.Transient, false, Suspect, every.Retry},
		{"disabled unclassified", Disabled, false, failure.Unclassified, false, Disabled, every.Retry},
	}
	f := newFixture(t)
	ctx := context.Background()
	ids := f.add(t, "p", len(tests))
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := ids[i]
			setState(t, f, id, tt.from)
			c := Check{Seen: tt.from, Valid: tt.valid, Kind: tt.kind, Reason: "because", RemoveExhausted: tt.remove,
				Next: every, Actor: "worker-1", ConfirmDelay: confirm}
			if tt.kind == failure.RateLimited {
				c.Until = f.clock.Now().Add(5 * time.Minute)
			}
			tr, err := f.st.Apply(ctx, "p", id, c)
			if err != nil {
				t.Fatal(err)
			}
			if tr.From != tt.from || tr.To != tt.to {
				t.Fatalf("Apply = %s → %s, want %s → %s", tr.From, tr.To, tt.from, tt.to)
			}
			score, err := f.rdb.ZScore(ctx, "kb:{p}:due", id).Result()
			switch {
			case tt.to == Removed:
				if err == nil {
					t.Fatalf("removed key still scheduled at %v", score)
				}
			case tt.next < 0 && score != 0:
				t.Fatalf("next check at %v, want 0 (at once)", score)
			case tt.next >= 0 && int64(score) != f.clock.Now().Add(tt.next).UnixMilli():
				t.Fatalf("next check in %v, want %v", time.Duration(int64(score)-f.clock.Now().UnixMilli())*time.Millisecond, tt.next)
			}
			checkInvariants(t, f.rdb, "p")
		})
	}
}

// TestApplyFaultLeavesTheKeyExactlyAsItWas compares everything GetAll shows.
func TestApplyFaultLeavesTheKeyExactlyAsItWas(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ids := f.add(t, "p", 1)
	bal := &Balance{LimitUSD: 10, UsedUSD: 2.5, Expires: f.clock.Now().Add(48 * time.Hour).Truncate(time.Millisecond)}
	if _, err := f.st.Apply(ctx, "p", ids[0], Check{Seen: Active, Valid: true, Reason: "verified", Balance: bal, Next: every, Actor: "w"}); err != nil {
		t.Fatal(err)
	}
	before, _ := f.st.List(ctx, "p", Query{Limit: 1})
	if b := before.Keys[0].Balance; b == nil || *b != *bal || before.Keys[0].LastValidated.IsZero() {
		t.Fatalf("balance not recorded: %+v", before.Keys[0])
	}
	f.clock.Advance(time.Minute)
	for _, k := range []failure.Kind{failure.Transient, failure.Unclassified} {
		if _, err := f.st.Apply(ctx, "p", ids[0], Check{Seen: Active, Kind: k, Reason: "http_503", Balance: &Balance{}, Next: every, Actor: "w"}); err != nil {
			t.Fatal(err)
		}
	}
	after, _ := f.st.List(ctx, "p", Query{Limit: 1})
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("a fault changed the key:\nbefore %+v\nafter  %+v", before.Keys[0], after.Keys[0])
	}
	hist, _, _ := f.st.History(ctx, "p", HistoryQuery{KeyID: ids[0], Limit: 10})
	if len(hist) != 1 {
		t.Fatalf("a fault wrote to the audit trail: %+v", hist)
	}
}

// TestApplyDoesNotOverruleANewerChange: a caller reported the key invalid
// while the worker's check (which found it valid) was under way.
func TestApplyDoesNotOverruleANewerChange(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ids := f.add(t, "p", 1)
	claimed := claimIDs(t, f, 1)
	setState(t, f, claimed[0], Suspect)
	tr, err := f.st.Apply(ctx, "p", ids[0], Check{Seen: Active, Valid: true, Reason: "verified", Next: every, Actor: "w"})
	if err != nil || tr.To != Suspect {
		t.Fatalf("Apply = %+v, %v; want the key left suspect", tr, err)
	}
	if again := claimIDs(t, f, 1); !slices.Equal(again, ids) {
		t.Fatalf("the suspect key is not due at once: %v", again)
	}
}

func TestApplyUnknownKey(t *testing.T) {
	f := newFixture(t)
	ids := f.add(t, "p", 1)
	if _, err := f.st.Remove(context.Background(), "p", ids); err != nil {
		t.Fatal(err)
	}
	_, err := f.st.Apply(context.Background(), "p", ids[0], Check{Seen: Active, Valid: true, Next: every})
	if !errors.Is(err, ErrKeyUnknown) {
		t.Fatalf("Apply on a removed key = %v, want ErrKeyUnknown", err)
	}
	checkInvariants(t, f.rdb, "p")
}

func TestScheduleCatchesKeysStoredBeforeIt(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ids := f.add(t, "p", 3)
	f.rdb.Del(ctx, "kb:{p}:due") // as a pool written by the previous release
	n, err := f.st.Schedule(ctx, "p")
	if err != nil || n != 3 {
		t.Fatalf("Schedule = %d, %v; want 3", n, err)
	}
	if n, _ := f.st.Schedule(ctx, "p"); n != 0 {
		t.Fatalf("second Schedule added %d", n)
	}
	got := claimIDs(t, f, 10)
	slices.Sort(got)
	want := slices.Sorted(slices.Values(ids))
	if !slices.Equal(got, want) {
		t.Fatalf("claimed %v, want %v", got, want)
	}
}
