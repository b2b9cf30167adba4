package store

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/keybroker/keybroker/failure"
	"github.com/keybroker/keybroker/internal/redistest"
	"github.com/keybroker/keybroker/internal/secret"
)

func TestActivePagePagesEveryActiveKeyOnce(t *testing.T) {
	rdb := redistest.Start(t).Client()
	ctx := context.Background()
	ring := keyring(t, "k1", map[string][]byte{"k1": dataKey()})
	st := New(rdb, secret.NewIDs([]byte("x")), WithKeyring(ring), WithBatchSize(4))
	in := secrets(10)
	weights := []uint32{0, 2, 3, 1, 1, 1, 1, 1, 1, 7}
	res, err := st.AddWeighted(ctx, "p", in, weights)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Report(ctx, "p", res.KeyIDs[3], Failure{Kind: failure.QuotaExhausted, Reason: "quota"}); err != nil {
		t.Fatal(err)
	}
	want := map[string]Current{}
	for i, id := range res.KeyIDs {
		if i != 3 {
			want[id] = Current{ID: id, State: Active, Secret: in[i], Weight: max(weights[i], 1)}
		}
	}
	got := map[string]Current{}
	after, pages := "", 0
	for {
		page, err := st.ActivePage(ctx, "p", after, 4, true)
		if err != nil {
			t.Fatal(err)
		}
		if page.Total != 9 {
			t.Fatalf("Total = %d, want 9", page.Total)
		}
		if len(page.Keys) == 0 {
			break
		}
		pages++
		for _, c := range page.Keys {
			if _, dup := got[c.ID]; dup || c.Err != nil {
				t.Fatalf("key %s twice or unreadable (%v)", c.ID, c.Err)
			}
			got[c.ID] = c
		}
		after = page.Keys[len(page.Keys)-1].ID
	}
	if pages != 3 || len(got) != len(want) {
		t.Fatalf("%d pages, %d keys; want 3 pages of 9 keys", pages, len(got))
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("key %s = %+v, want %+v", id, got[id], w)
		}
	}
	bare, err := st.ActivePage(ctx, "p", "", 100, false)
	if err != nil || len(bare.Keys) != 9 || bare.Keys[0].Secret != "" || bare.Keys[0].Weight == 0 {
		t.Fatalf("ActivePage without secrets = %+v, %v", bare, err)
	}
}

func TestFetchSaysWhatKeysAreNow(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	in := secrets(3)
	ids := f.add(t, "p", 3)
	if _, err := f.st.Report(ctx, "p", ids[1], Failure{Kind: failure.RateLimited, Reason: "429", Until: f.clock.Now().Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.Remove(ctx, "p", ids[2:]); err != nil {
		t.Fatal(err)
	}
	got, err := f.st.Fetch(ctx, "p", []string{ids[0], ids[1], ids[2], "0123456789abcdef"})
	if err != nil {
		t.Fatal(err)
	}
	want := []Current{
		{ID: ids[0], State: Active, Secret: in[0], Weight: 1},
		{ID: ids[1], State: CoolingDown, Weight: 1},
		{ID: ids[2], Weight: 1},
		{ID: "0123456789abcdef", Weight: 1},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Fetch =\n%+v\nwant\n%+v", got, want)
	}
}

func TestAddWeightedReweighsPresentKeys(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	sub := f.rdb.Subscribe(ctx, EventsChannel("p"))
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	in := secrets(2)
	res, err := f.st.AddWeighted(ctx, "p", in, []uint32{5, 0})
	if err != nil || res.AddedCount() != 2 {
		t.Fatalf("AddWeighted = %+v, %v", res, err)
	}
	if msg, _ := sub.ReceiveMessage(ctx); msg.Payload != "added "+res.KeyIDs[0]+" "+res.KeyIDs[1] {
		t.Fatalf("event %q", msg.Payload)
	}
	// Same weights again change nothing; a new weight is a change.
	if _, err := f.st.AddWeighted(ctx, "p", in, []uint32{5, 9}); err != nil {
		t.Fatal(err)
	}
	if msg, _ := sub.ReceiveMessage(ctx); msg.Payload != "changed "+res.KeyIDs[1] {
		t.Fatalf("event %q, want the reweighed key only", msg.Payload)
	}
	// Plain Add leaves weights alone.
	if _, err := f.st.Add(ctx, "p", in); err != nil {
		t.Fatal(err)
	}
	got, err := f.st.Fetch(ctx, "p", res.KeyIDs)
	if err != nil || got[0].Weight != 5 || got[1].Weight != 9 {
		t.Fatalf("weights = %+v, %v; want 5 and 9", got, err)
	}
	if _, err := f.st.AddWeighted(ctx, "p", in, []uint32{1}); err == nil {
		t.Fatal("AddWeighted with too few weights succeeded")
	}
	checkInvariants(t, f.rdb, "p")
}

func TestRecordUsageAddsLeasesAndMovesLastUsedForward(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ids := f.add(t, "p", 2)
	t0 := f.clock.Now()
	if _, err := f.st.Pick(ctx, "p"); err != nil { // one lease counted by Redis itself
		t.Fatal(err)
	}
	usage := []Usage{
		{ID: ids[0], Leases: 5, LastUsed: t0.Add(time.Second)},
		{ID: ids[1], Leases: 2, LastUsed: t0.Add(-time.Hour)},
		{ID: "0123456789abcdef", Leases: 9, LastUsed: t0}, // removed meanwhile: skipped
	}
	if n, err := f.st.RecordUsage(ctx, "p", usage); n != len(usage) || err != nil {
		t.Fatalf("RecordUsage = %d, %v", n, err)
	}
	page, err := f.st.List(ctx, "p", Query{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var leases int64
	for _, k := range page.Keys {
		leases += k.Leases
		switch k.ID {
		case ids[0]:
			if !k.LastUsed.Equal(t0.Add(time.Second)) {
				t.Errorf("key 0 last used %s, want %s", k.LastUsed, t0.Add(time.Second))
			}
		case ids[1]:
			want := t0.Add(-time.Hour) // never picked: the flushed time is all it has
			if k.Leases == 3 {
				want = t0 // picked at t0: an older flushed time does not move it back
			}
			if !k.LastUsed.Equal(want) {
				t.Errorf("key 1 last used %s, want %s", k.LastUsed, want)
			}
		}
	}
	if leases != 8 {
		t.Fatalf("lease counts sum to %d, want 1 + 5 + 2", leases)
	}
	if n, _ := f.rdb.Exists(ctx, prefix("p")+"k:0123456789abcdef").Result(); n != 0 {
		t.Fatal("usage of a missing key created it")
	}
}

func TestParseEvent(t *testing.T) {
	tests := []struct {
		channel, payload string
		want             Event
		ok               bool
	}{
		{"kb:{p-1.x}:events", "added a b", Event{Pool: "p-1.x", Kind: EventAdded, IDs: []string{"a", "b"}}, true},
		{"kb:{p}:events", "removed a", Event{Pool: "p", Kind: EventRemoved, IDs: []string{"a"}}, true},
		{"kb:{p}:events", "changed a", Event{Pool: "p", Kind: EventChanged, IDs: []string{"a"}}, true},
		{"kb:{p}:events", "renamed a", Event{}, false},
		{"kb:{p}:events", "added", Event{}, false},
		{"kb:{}:events", "added a", Event{}, false},
		{"kb:p:events", "added a", Event{}, false},
		{"other", "added a", Event{}, false},
	}
	for _, tt := range tests {
		got, ok := ParseEvent(tt.channel, tt.payload)
		if ok != tt.ok || got.Pool != tt.want.Pool || got.Kind != tt.want.Kind || !slices.Equal(got.IDs, tt.want.IDs) {
			t.Errorf("ParseEvent(%q, %q) = %+v, %v; want %+v, %v", tt.channel, tt.payload, got, ok, tt.want, tt.ok)
		}
	}
	if EventsChannel("p") != "kb:{p}:events" {
		t.Fatal("EventsChannel and ParseEvent disagree")
	}
}
