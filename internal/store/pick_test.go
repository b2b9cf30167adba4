package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keybroker/keybroker/failure"
)

func TestPickEmptyPool(t *testing.T) {
	f := newFixture(t)
	_, err := f.st.Pick(context.Background(), "nothing-here")
	var nk *NoKeyError
	if !errors.As(err, &nk) || nk.Total != 0 {
		t.Fatalf("Pick on empty pool = %v, want NoKeyError with Total 0", err)
	}
}

func TestPickOnlyActiveAndNeverStarves(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ids := f.add(t, "p", 10)
	excluded := map[string]bool{ids[0]: true, ids[1]: true, ids[2]: true}
	until := f.clock.Now().Add(time.Hour)
	for id, kind := range map[string]failure.Kind{ids[0]: failure.RateLimited, ids[1]: failure.QuotaExhausted, ids[2]: failure.InvalidKey} {
		if _, err := f.st.Report(ctx, "p", id, Failure{Kind: kind, Reason: "r", Until: until}); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]int{}
	for range 700 {
		p, err := f.st.Pick(ctx, "p")
		if err != nil {
			t.Fatal(err)
		}
		if excluded[p.KeyID] {
			t.Fatalf("picked non-active key %s", p.KeyID)
		}
		if p.Secret == "" || f.st.KeyID(p.Secret) != p.KeyID {
			t.Fatalf("picked secret does not match key id %s", p.KeyID)
		}
		seen[p.KeyID]++
	}
	// 7 keys, 700 picks: each expects 100; below 50 is a 1-in-10^8 event.
	for _, id := range ids[3:] {
		if seen[id] < 50 {
			t.Errorf("key %s picked %d times of 700; selection is starving it", id, seen[id])
		}
	}
	page, _ := f.st.List(ctx, "p", Query{Limit: 10})
	var leases int64
	for _, k := range page.Keys {
		leases += k.Leases
		if k.Leases > 0 && !k.LastUsed.Equal(f.clock.Now().Truncate(time.Millisecond)) {
			t.Errorf("key %s last used %v, want %v", k.ID, k.LastUsed, f.clock.Now())
		}
	}
	if leases != 700 {
		t.Fatalf("lease counts sum to %d, want 700", leases)
	}
}

func TestPickAllCoolingDownSaysWhenTheFirstReturns(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ids := f.add(t, "p", 2)
	now := f.clock.Now()
	if _, err := f.st.Report(ctx, "p", ids[0], Failure{Kind: failure.RateLimited, Reason: "r", Until: now.Add(30 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.Report(ctx, "p", ids[1], Failure{Kind: failure.RateLimited, Reason: "r", Until: now.Add(10 * time.Second)}); err != nil {
		t.Fatal(err)
	}

	_, err := f.st.Pick(ctx, "p")
	var nk *NoKeyError
	if !errors.As(err, &nk) {
		t.Fatalf("Pick = %v, want NoKeyError", err)
	}
	if nk.Total != 2 || nk.CoolingDown != 2 || !nk.NextWake.Equal(now.Add(10*time.Second)) {
		t.Fatalf("NoKeyError = %+v, want 2 keys cooling, first back at %v", nk, now.Add(10*time.Second))
	}

	f.clock.Advance(10 * time.Second)
	p, err := f.st.Pick(ctx, "p")
	if err != nil || p.KeyID != ids[1] {
		t.Fatalf("after the cooldown Pick = %v, %v; want %s", p.KeyID, err, ids[1])
	}
	checkInvariants(t, f.rdb, "p")
}

func TestPickNoHealthyKeyWithoutCooldown(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ids := f.add(t, "p", 1)
	if _, err := f.st.Report(ctx, "p", ids[0], Failure{Kind: failure.InvalidKey, Reason: "invalid_api_key"}); err != nil {
		t.Fatal(err)
	}
	_, err := f.st.Pick(ctx, "p")
	var nk *NoKeyError
	if !errors.As(err, &nk) || nk.Total != 1 || nk.CoolingDown != 0 || !nk.NextWake.IsZero() {
		t.Fatalf("Pick = %#v, want NoKeyError with 1 key, none cooling", err)
	}
}
