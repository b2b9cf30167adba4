package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keybroker/keybroker/failure"
)

// TestPickerLeasesOnlyActiveKeysAndCountsThem parks keys the way a
// caller's reports and another replica would, then picks: a parked key
// must never be leased, not even from the secret cache, and every lease
// must reach Redis with the next Flush.
func TestPickerLeasesOnlyActiveKeysAndCountsThem(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ids := f.add(t, "p", 6)
	pk := f.st.NewPicker()
	for range 60 { // every key's secret is cached now
		if _, err := pk.Pick(ctx, "p"); err != nil {
			t.Fatal(err)
		}
	}
	until := f.clock.Now().Add(time.Hour)
	for _, id := range ids[:2] {
		if _, err := f.st.Report(ctx, "p", id, Failure{Kind: failure.RateLimited, Reason: "r", Until: until}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.st.Remove(ctx, "p", ids[2:3]); err != nil {
		t.Fatal(err)
	}
	parked := map[string]bool{ids[0]: true, ids[1]: true, ids[2]: true}
	for range 300 {
		p, err := pk.Pick(ctx, "p")
		if err != nil {
			t.Fatal(err)
		}
		if parked[p.KeyID] {
			t.Fatalf("leased %s, which is cooling down or removed", p.KeyID)
		}
		if f.st.KeyID(p.Secret) != p.KeyID {
			t.Fatalf("the secret leased with %s is not its own", p.KeyID)
		}
	}
	if _, err := pk.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	page, err := f.st.List(ctx, "p", Query{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var leases int64
	for _, k := range page.Keys {
		leases += k.Leases
	}
	// 60 leases before the changes, of which those of the removed key went
	// with it; 300 after.
	if leases < 300 || leases > 360 {
		t.Fatalf("lease counts sum to %d after Flush, want 300 to 360", leases)
	}
}

// TestPickerExplainsAnEmptySelection checks the fallback to the full
// script: every key cooling down gives a NoKeyError with the first
// return, and once it is due the key is woken and leased.
func TestPickerExplainsAnEmptySelection(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ids := f.add(t, "p", 1)
	pk := f.st.NewPicker()
	until := f.clock.Now().Add(10 * time.Second)
	if _, err := f.st.Report(ctx, "p", ids[0], Failure{Kind: failure.RateLimited, Reason: "r", Until: until}); err != nil {
		t.Fatal(err)
	}
	_, err := pk.Pick(ctx, "p")
	var nk *NoKeyError
	if !errors.As(err, &nk) || nk.Total != 1 || nk.CoolingDown != 1 {
		t.Fatalf("Pick with every key cooling = %v, want a NoKeyError", err)
	}
	f.clock.Advance(11 * time.Second)
	if p, err := pk.Pick(ctx, "p"); err != nil || p.KeyID != ids[0] {
		t.Fatalf("after the cooldown Pick = %v, %v; want %s", p.KeyID, err, ids[0])
	}
	if _, err := pk.Pick(ctx, "nobody-made-this"); !errors.As(err, &nk) || nk.Total != 0 {
		t.Fatalf("Pick on an unknown pool = %v, want a NoKeyError", err)
	}
	if _, ok := pk.pools.Load("nobody-made-this"); ok {
		t.Error("an unknown pool name stayed in the picker")
	}
}
