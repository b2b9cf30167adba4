package store

import (
	"context"
	"testing"
	"time"

	"github.com/keybroker/keybroker/failure"
)

// TestAuditRecordsEveryChangeWithItsActor drives one key through add,
// report, the end of a cooldown and removal, and reads its history back.
func TestAuditRecordsEveryChangeWithItsActor(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ids := f.add(t, "p", 2)
	id := ids[0]
	until := f.clock.Now().Add(time.Minute)
	if _, err := f.st.Report(ctx, "p", id, Failure{Kind: failure.RateLimited, Reason: "rate_limit_exceeded", Until: until}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.Report(ctx, "p", id, Failure{Kind: failure.Transient, Reason: "http_503"}); err != nil {
		t.Fatal(err) // no change, no entry
	}
	f.clock.Advance(time.Minute)
	if err := f.st.Wake(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.Remove(ctx, "p", []string{id}); err != nil {
		t.Fatal(err)
	}
	got, more, err := f.st.History(ctx, "p", HistoryQuery{KeyID: id, Limit: 10})
	if err != nil || more {
		t.Fatalf("History = %v, more %v, %v", got, more, err)
	}
	want := []AuditEntry{
		{KeyID: id, From: Active, To: Removed, Reason: "removed_by_admin", Actor: "admin"},
		{KeyID: id, From: CoolingDown, To: Active, Reason: "recovered", Actor: "broker"},
		{KeyID: id, From: Active, To: CoolingDown, Reason: "rate_limit_exceeded", Actor: "report", Until: until.Truncate(time.Millisecond)},
		{KeyID: id, From: "", To: Active, Reason: "added", Actor: "admin"},
	}
	if len(got) != len(want) {
		t.Fatalf("history has %d entries, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.KeyID != w.KeyID || g.From != w.From || g.To != w.To || g.Reason != w.Reason || g.Actor != w.Actor || !g.Until.Equal(w.Until) || g.Time.IsZero() || g.ID == "" {
			t.Errorf("entry %d = %+v, want %+v", i, g, w)
		}
	}
	other, _, err := f.st.History(ctx, "p", HistoryQuery{KeyID: ids[1], Limit: 10})
	if err != nil || len(other) != 1 || other[0].To != Active {
		t.Fatalf("the other key's history = %+v, %v", other, err)
	}
}

func TestHistoryPagesNewestFirst(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ids := f.add(t, "p", 300) // many other keys' entries between this key's
	id := ids[7]
	for range 6 {
		if _, err := f.st.Report(ctx, "p", id, Failure{Kind: failure.QuotaExhausted, Reason: "insufficient_quota"}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.st.Add(ctx, "p", secrets(300)); err != nil { // no entries: all present
			t.Fatal(err)
		}
		if _, err := f.st.Report(ctx, "p", ids[8], Failure{Kind: failure.InvalidKey, Reason: "x"}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.st.Apply(ctx, "p", id, Check{Seen: Disabled, Valid: true, Reason: "verified", Actor: "worker"}); err != nil {
			t.Fatal(err)
		}
	}
	var all []AuditEntry
	q := HistoryQuery{KeyID: id, Limit: 5}
	for {
		page, more, err := f.st.History(ctx, "p", q)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
		if !more {
			break
		}
		q.Before = page[len(page)-1].ID
	}
	if len(all) != 13 { // added, then 6 × (disabled, verified)
		t.Fatalf("paged %d entries, want 13: %+v", len(all), all)
	}
	for i := 1; i < len(all); i++ {
		if all[i].ID >= all[i-1].ID && len(all[i].ID) == len(all[i-1].ID) {
			t.Fatalf("entries out of order at %d: %s after %s", i, all[i].ID, all[i-1].ID)
		}
	}
	if all[0].To != Active || all[0].Actor != "worker" || all[len(all)-1].Reason != "added" {
		t.Fatalf("newest %+v, oldest %+v", all[0], all[len(all)-1])
	}
}

func TestHistoryRejectsBadQueries(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, q := range []HistoryQuery{
		{KeyID: "00000000000000aa", Limit: 0},
		{KeyID: "nope", Limit: 1},
		{KeyID: "00000000000000aa", Limit: 1, Before: "1-x"},
	} {
		if _, _, err := f.st.History(ctx, "p", q); err == nil {
			t.Errorf("History(%+v) accepted", q)
		}
	}
	got, more, err := f.st.History(ctx, "p", HistoryQuery{KeyID: "00000000000000aa", Limit: 3})
	if err != nil || more || len(got) != 0 {
		t.Fatalf("history of a pool without a trail = %v, %v, %v", got, more, err)
	}
}

func TestAuditTrailIsCapped(t *testing.T) {
	f := newFixture(t, WithBatchSize(1000))
	f.add(t, "p", AuditLength+2000)
	n, err := f.rdb.XLen(context.Background(), "kb:{p}:audit:decisions").Result()
	if err != nil {
		t.Fatal(err)
	}
	// MAXLEN ~ trims whole stream nodes (100 entries by default), so the
	// trail may exceed the cap by up to a node.
	if n < AuditLength || n > AuditLength+200 {
		t.Fatalf("audit trail holds %d entries with a cap of %d", n, AuditLength)
	}
}

// A caller with a valid client token cycles a key through short cooldowns
// (each report and each cooldown end is an audit entry) until more than
// a trail's worth of entries were written. Before, one capped stream held
// everything and the admin's Remove of another key was pushed out within
// seconds; now admins' and the worker's decisions are kept apart from
// caller churn and survive it.
func TestCallerChurnCannotEvictAdminDecisions(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ids := f.add(t, "p", 2)
	removed, churned := ids[0], ids[1]
	if _, err := f.st.As("ops").Remove(ctx, "p", []string{removed}); err != nil {
		t.Fatal(err)
	}
	flooder := f.st.As("flooder")
	for i := 0; i < AuditLength/2+600; i++ {
		until := f.clock.Now().Add(time.Second)
		if _, err := flooder.Report(ctx, "p", churned, Failure{Kind: failure.RateLimited, Reason: "rate_limit_exceeded", Until: until}); err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(2 * time.Second)
		if err := f.st.Wake(ctx, "p"); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.rdb.XLen(ctx, "kb:{p}:audit").Val(); n < AuditLength {
		t.Fatalf("test premise: only %d churn entries written", n)
	}
	hist, _, err := f.st.History(ctx, "p", HistoryQuery{KeyID: removed, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var sawRemove bool
	for _, e := range hist {
		sawRemove = sawRemove || (e.To == Removed && e.Actor == "admin:ops")
	}
	if !sawRemove {
		t.Fatalf("the admin's Remove was evicted by caller churn; history: %+v", hist)
	}
}

// A pool's audit_length caps each of its audit streams.
func TestAuditLengthIsPerPool(t *testing.T) {
	f := newFixture(t, WithBatchSize(1000))
	ctx := context.Background()
	if err := f.st.SetAuditLength(ctx, "small", 200); err != nil {
		t.Fatal(err)
	}
	f.add(t, "small", 1000)
	f.add(t, "big", 1000)
	small := f.rdb.XLen(ctx, "kb:{small}:audit:decisions").Val()
	big := f.rdb.XLen(ctx, "kb:{big}:audit:decisions").Val()
	if small < 200 || small > 400 || big != 1000 {
		t.Fatalf("audit entries: small pool %d (cap 200), big pool %d (default cap)", small, big)
	}
}
