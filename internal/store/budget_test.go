package store

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/keybroker/keybroker/internal/redistest"
	"github.com/keybroker/keybroker/internal/secret"
)

// Someone with write access to Redis rewrites a window's shared count:
// negative, fractional, huge or not a number. A claim still grants at most
// the window's limit and fails for nobody (an error would turn budgets
// off on every replica); the count is put right by the claim. What the
// writer gets is at most one extra window's limit per tampered count, the
// same as deleting it.
func TestTamperedBudgetCountsGrantAtMostTheLimit(t *testing.T) {
	rdb := redistest.Deploy(t).Client()
	ctx := context.Background()
	st := New(rdb, secret.NewIDs([]byte("x")))
	h := prefix("p") + "bw:7"
	for _, planted := range []string{"-1000000", "-0.5", "2.5", "1e300", "nan", "inf", "garbage", ""} {
		rdb.HSet(ctx, h, "k1:r", planted, "k1:t", planted)
		var granted int64
		for range 5 {
			g, err := st.ClaimBudget(ctx, "p", time.Minute, []BudgetAsk{{ID: "k1", Window: 7, LimitReqs: 10, WantReqs: 6, LimitToks: 100, WantToks: 60}})
			if err != nil {
				t.Fatalf("count %q: claim: %v", planted, err)
			}
			granted += g[0].Reqs
		}
		if granted > 10 {
			t.Errorf("count %q: granted %d requests in one window; the limit is 10", planted, granted)
		}
		if v := rdb.HGet(ctx, h, "k1:r").Val(); v != strconv.FormatInt(granted, 10) {
			t.Errorf("count %q: stored count %q after granting %d", planted, v, granted)
		}
		// A provider's floor is applied over a tampered count too.
		rdb.HSet(ctx, h, "k1:r", planted)
		if err := st.ObserveBudget(ctx, "p", time.Minute, []BudgetObservation{{ID: "k1", Window: 7, FloorReqs: 4, FloorToks: -1}}); err != nil {
			t.Fatalf("count %q: observe: %v", planted, err)
		}
		if v := rdb.HGet(ctx, h, "k1:r").Val(); v != "4" {
			t.Errorf("count %q: floor 4 left the count at %q", planted, v)
		}
	}
}

// Removing a key (by an admin, or the purge after quarantine) takes its
// tier and learned limits with it, so kb:{pool}:bl does not grow with
// every key a pool ever held.
func TestRemovedKeysLeaveNoBudgetLimits(t *testing.T) {
	rdb := redistest.Deploy(t).Client()
	ctx := context.Background()
	st := New(rdb, secret.NewIDs([]byte("x")))
	added, err := st.Add(ctx, "p", []string{"sk-budget-limits-000000000001", "sk-budget-limits-000000000002"})
	if err != nil {
		t.Fatal(err)
	}
	gone, kept := added.KeyIDs[0], added.KeyIDs[1]
	if err := st.SetTiers(ctx, "p", added.KeyIDs, []string{"tier-2", "tier-2"}); err != nil {
		t.Fatal(err)
	}
	obs := []BudgetObservation{
		{ID: gone, Window: 1, FloorReqs: -1, FloorToks: -1, LearnedReqs: 50, LearnedTok: 5000},
		{ID: kept, Window: 1, FloorReqs: -1, FloorToks: -1, LearnedReqs: 50, LearnedTok: 5000},
	}
	if err := st.ObserveBudget(ctx, "p", time.Minute, obs); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Remove(ctx, "p", []string{gone}); err != nil {
		t.Fatal(err)
	}
	lims, err := st.BudgetLimits(ctx, "p")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := lims[gone]; ok {
		t.Errorf("removed key still has budget limits: %+v", lims[gone])
	}
	if l := lims[kept]; l.Tier != "tier-2" || l.LearnedReqs != 50 {
		t.Errorf("kept key's limits = %+v; want its tier and learned limits", l)
	}
}
