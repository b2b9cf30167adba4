package store

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
)

func TestRetireOnlyEmptyPools(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ids := f.add(t, "p", 2)
	if err := f.st.Retire(ctx, "p"); !errors.Is(err, ErrPoolNotEmpty) {
		t.Fatalf("Retire of a pool with keys: %v", err)
	}
	if pools, _ := f.st.Pools(ctx); !slices.Contains(pools, "p") {
		t.Fatal("a refused Retire left the pool off the list")
	}
	if _, err := f.st.Remove(ctx, "p", ids); err != nil {
		t.Fatal(err)
	}
	if err := f.st.Retire(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	if pools, _ := f.st.Pools(ctx); slices.Contains(pools, "p") {
		t.Fatal("a retired pool is still listed")
	}
	if err := f.st.Retire(ctx, "p"); !errors.Is(err, ErrPoolUnknown) {
		t.Fatalf("Retire twice: %v", err)
	}
}

// TestRetireRacingAddKeepsKeysListed: whichever way Add and Retire
// interleave, a pool that ends up with keys is on the list.
func TestRetireRacingAddKeepsKeysListed(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for i := range 50 {
		ids := f.add(t, "race", 1)
		if _, err := f.st.Remove(ctx, "race", ids); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Go(func() { _ = f.st.Retire(ctx, "race") })
		wg.Go(func() {
			if _, err := f.st.Add(ctx, "race", secrets(i + 2)[i+1:]); err != nil {
				t.Error(err)
			}
		})
		wg.Wait()
		pools, _ := f.st.Pools(ctx)
		if n, _ := f.st.Counts(ctx, "race"); n.Total > 0 && !slices.Contains(pools, "race") {
			t.Fatalf("round %d: the pool holds %d keys but is not listed", i, n.Total)
		}
	}
}

func TestRecentReadsEveryKeysNewestFirst(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ids := f.add(t, "p", 3)
	if _, err := f.st.Remove(ctx, "p", ids[:1]); err != nil {
		t.Fatal(err)
	}
	got, err := f.st.Recent(ctx, "p", 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].KeyID != ids[0] || got[0].To != Removed || got[1].To != Active {
		t.Fatalf("Recent = %+v", got)
	}
}
