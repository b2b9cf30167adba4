package store

import (
	"context"
	"slices"
	"testing"
)

func TestRemoveReportsWhatWasThere(t *testing.T) {
	f := newFixture(t, WithBatchSize(2))
	ctx := context.Background()
	ids := f.add(t, "p", 4)
	if _, err := f.st.Report(ctx, "p", ids[1], Failure{Kind: 3, Reason: "r", Until: f.clock.Now().Add(60e9)}); err != nil {
		t.Fatal(err)
	}
	missing := "00000000000000aa"
	res, err := f.st.Remove(ctx, "p", []string{ids[0], ids[1], missing, ids[0]})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Removed, []string{ids[0], ids[1]}) || !slices.Equal(res.NotFound, []string{missing, ids[0]}) {
		t.Fatalf("Remove = %+v", res)
	}
	checkInvariants(t, f.rdb, "p")
	for range 50 {
		p, err := f.st.Pick(ctx, "p")
		if err != nil {
			t.Fatal(err)
		}
		if p.KeyID == ids[0] || p.KeyID == ids[1] {
			t.Fatalf("picked removed key %s", p.KeyID)
		}
	}
}
