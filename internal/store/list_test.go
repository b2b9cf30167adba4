package store

import (
	"context"
	"testing"
	"time"

	"github.com/keybroker/keybroker/failure"
)

func TestListPagesEveryKeyExactlyOnce(t *testing.T) {
	f := newFixture(t, WithBatchSize(1000))
	ctx := context.Background()
	const n = 10_000
	ids := f.add(t, "p", n)
	seen := make(map[string]int, n)
	q := Query{Limit: 777}
	pages := 0
	for {
		page, err := f.st.List(ctx, "p", q)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(page.Keys) > q.Limit {
			t.Fatalf("page of %d keys, limit %d", len(page.Keys), q.Limit)
		}
		for _, k := range page.Keys {
			seen[k.ID]++
		}
		if !page.More {
			break
		}
		q.After = page.Keys[len(page.Keys)-1].ID
	}
	if want := (n + q.Limit - 1) / q.Limit; pages != want {
		t.Errorf("%d pages, want %d", pages, want)
	}
	for _, id := range ids {
		if seen[id] != 1 {
			t.Fatalf("key %s listed %d times", id, seen[id])
		}
	}
	if len(seen) != n {
		t.Fatalf("listed %d distinct keys, want %d", len(seen), n)
	}
}

func TestListFiltersByStateAndShowsBookkeeping(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ids := f.add(t, "p", 5)
	until := f.clock.Now().Add(time.Minute).Truncate(time.Millisecond)
	if _, err := f.st.Report(ctx, "p", ids[2], Failure{Kind: failure.RateLimited, Reason: "rate_limit_exceeded", Until: until}); err != nil {
		t.Fatal(err)
	}
	page, err := f.st.List(ctx, "p", Query{State: CoolingDown, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Keys) != 1 || page.More {
		t.Fatalf("cooling_down page = %+v", page)
	}
	k := page.Keys[0]
	if k.ID != ids[2] || k.State != CoolingDown || k.Reason != "rate_limit_exceeded" || !k.Until.Equal(until) ||
		k.Failures != 1 || k.LastFailure != failure.RateLimited || k.Added.IsZero() || !k.LastUsed.IsZero() {
		t.Fatalf("key = %+v", k)
	}
	if c := page.Counts; c.Total != 5 || c.Active != 4 || c.CoolingDown != 1 {
		t.Fatalf("counts = %+v", c)
	}
	f.clock.Advance(time.Minute)
	page, _ = f.st.List(ctx, "p", Query{State: CoolingDown, Limit: 10})
	if len(page.Keys) != 0 || page.Counts.Active != 5 {
		t.Fatalf("after the cooldown List still shows %+v", page)
	}
}

func TestListRejectsBadQueries(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.st.List(ctx, "p", Query{Limit: 0}); err == nil {
		t.Error("limit 0 accepted")
	}
	if _, err := f.st.List(ctx, "p", Query{Limit: 1, After: "x"}); err == nil {
		t.Error("malformed after accepted")
	}
}
