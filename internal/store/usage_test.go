package store

import (
	"context"
	"testing"
)

// A flush whose reply an outage lost may have landed; the broker retries
// it. Before, a retry was a second HINCRBY and lease counts drifted up
// after every outage (about 4 %). A numbered batch is applied once: the
// retry, and any older batch of the same flusher, changes nothing, while
// another flusher's batch of the same number counts.
func TestUsageBatchIsAppliedOnce(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	added, err := f.st.Add(ctx, "p", secrets(1))
	if err != nil {
		t.Fatal(err)
	}
	id := added.KeyIDs[0]
	leases := func() int64 {
		t.Helper()
		page, err := f.st.List(ctx, "p", Query{Limit: 10})
		if err != nil || len(page.Keys) != 1 {
			t.Fatalf("List = %+v, %v", page, err)
		}
		return page.Keys[0].Leases
	}
	batch := func(flusher string, seq, n int64) UsageBatch {
		return UsageBatch{Flusher: flusher, Seq: seq, Usage: []Usage{{ID: id, Leases: n, LastUsed: f.clock.Now()}}}
	}
	for i, step := range []struct {
		b       UsageBatch
		applied bool
		want    int64
	}{
		{batch("a", 1, 5), true, 5},
		{batch("a", 1, 5), false, 5}, // the retry of a batch that landed
		{batch("a", 2, 3), true, 8},
		{batch("a", 1, 5), false, 8}, // an older batch
		{batch("b", 1, 7), true, 15}, // another broker's own sequence
		{batch("", 0, 1), true, 16},  // unnumbered: always applied
		{batch("", 0, 1), true, 17},
	} {
		applied, err := f.st.RecordUsageBatch(ctx, "p", step.b)
		if err != nil || applied != step.applied {
			t.Fatalf("step %d: RecordUsageBatch = %v, %v; want applied %v", i, applied, err, step.applied)
		}
		if got := leases(); got != step.want {
			t.Fatalf("step %d: lease count %d, want %d", i, got, step.want)
		}
	}
}
