package store

import (
	"context"
	"slices"
	"testing"
)

func TestAddIsIdempotent(t *testing.T) {
	f := newFixture(t, WithBatchSize(3))
	ctx := context.Background()
	in := append(secrets(5), secrets(2)...) // two repeats inside the request
	res, err := f.st.Add(ctx, "p", in)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := res.Added, []bool{true, true, true, true, true, false, false}; !slices.Equal(got, want) {
		t.Fatalf("Added = %v, want %v", got, want)
	}
	if res.KeyIDs[0] != res.KeyIDs[5] || res.KeyIDs[0] != f.st.KeyID(in[0]) {
		t.Fatalf("key ids are not stable: %v", res.KeyIDs)
	}
	again, err := f.st.Add(ctx, "p", secrets(6))
	if err != nil {
		t.Fatal(err)
	}
	if again.AddedCount() != 1 {
		t.Fatalf("second Add added %d, want 1", again.AddedCount())
	}
	page, err := f.st.List(ctx, "p", Query{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if page.Counts.Total != 6 || page.Counts.Active != 6 {
		t.Fatalf("counts = %+v, want 6 active", page.Counts)
	}
	pools, err := f.st.Pools(ctx)
	if err != nil || !slices.Equal(pools, []string{"p"}) {
		t.Fatalf("Pools() = %v, %v", pools, err)
	}
	checkInvariants(t, f.rdb, "p")
}

func TestAddLeavesAnExistingKeyInItsState(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ids := f.add(t, "p", 1)
	if _, err := f.st.Report(ctx, "p", ids[0], Failure{Kind: 1, Reason: "invalid_api_key"}); err != nil {
		t.Fatal(err)
	}
	res, err := f.st.Add(ctx, "p", secrets(1))
	if err != nil || res.AddedCount() != 0 {
		t.Fatalf("re-Add = %+v, %v", res, err)
	}
	page, _ := f.st.List(ctx, "p", Query{Limit: 1})
	if page.Keys[0].State != Suspect {
		t.Fatalf("re-adding a suspect key made it %s", page.Keys[0].State)
	}
}

func TestAddPublishesChanges(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	sub := f.rdb.Subscribe(ctx, EventsChannel("p"))
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	ids := f.add(t, "p", 2)
	msg, err := sub.ReceiveMessage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := "added " + ids[0] + " " + ids[1]; msg.Payload != want {
		t.Fatalf("event = %q, want %q", msg.Payload, want)
	}
}
