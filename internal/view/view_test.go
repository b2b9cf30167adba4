package view_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/keybroker/keybroker/failure"
	"github.com/keybroker/keybroker/internal/redistest"
	"github.com/keybroker/keybroker/internal/store"
	"github.com/keybroker/keybroker/internal/testkit"
	"github.com/keybroker/keybroker/internal/view"
)

// The view loads what Redis holds, follows changes, and serves picks from
// memory: with Redis gone, a loaded pool still leases.
func TestViewLoadsFollowsAndPicksFromMemory(t *testing.T) {
	srv := redistest.Start(t)
	r := startReplica(t, srv.Addr)
	ctx := context.Background()
	secrets := testSecrets("load", 20)
	res, err := r.store.Add(ctx, "p", secrets)
	if err != nil {
		t.Fatal(err)
	}
	waitLoaded(t, r, "p", 20)
	if _, err := r.store.Report(ctx, "p", res.KeyIDs[0], store.Failure{Kind: failure.QuotaExhausted, Reason: "quota"}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.store.Remove(ctx, "p", res.KeyIDs[1:2]); err != nil {
		t.Fatal(err)
	}
	waitAgree(t, "p", r)

	bySecret := map[string]string{}
	for i, id := range res.KeyIDs {
		bySecret[id] = secrets[i]
	}
	srv.Stop()
	for range 200 {
		got, err := r.view.Pick(ctx, "p")
		if err != nil {
			t.Fatalf("Pick with Redis stopped: %v", err)
		}
		if got.Secret != bySecret[got.KeyID] || got.KeyID == res.KeyIDs[0] || got.KeyID == res.KeyIDs[1] {
			t.Fatalf("Pick = %s/%q: not an active key with its own secret", got.KeyID, got.Secret)
		}
	}
}

// A pool the view has not loaded, or holds no active key of, is picked by
// the store: the authoritative answer, woken keys and all.
func TestEmptyOrUnknownPoolFallsBackToTheStore(t *testing.T) {
	srv := redistest.Start(t)
	r := startReplica(t, srv.Addr)
	ctx := context.Background()
	_, err := r.view.Pick(ctx, "nothing")
	var nk *store.NoKeyError
	if !errors.As(err, &nk) || nk.Total != 0 {
		t.Fatalf("Pick from an unknown pool = %v, want an empty-pool NoKeyError", err)
	}
	res, err := r.store.Add(ctx, "cool", testSecrets("cool", 1))
	if err != nil {
		t.Fatal(err)
	}
	waitLoaded(t, r, "cool", 1)
	if _, err := r.store.Report(ctx, "cool", res.KeyIDs[0], store.Failure{Kind: failure.RateLimited, Reason: "429", Until: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	waitLoaded(t, r, "cool", 0)
	_, err = r.view.Pick(ctx, "cool")
	if !errors.As(err, &nk) || nk.Total != 1 || nk.CoolingDown != 1 || nk.NextWake.IsZero() {
		t.Fatalf("Pick from a cooling pool = %v, want the store's NoKeyError with its wake time", err)
	}
}

// Leases counted in memory reach Redis, those of keys that left the view
// included.
func TestUsageCountsReachRedis(t *testing.T) {
	srv := redistest.Start(t)
	r := startReplica(t, srv.Addr, view.WithFlushInterval(time.Hour))
	ctx := context.Background()
	res, err := r.store.Add(ctx, "p", testSecrets("usage", 3))
	if err != nil {
		t.Fatal(err)
	}
	waitLoaded(t, r, "p", 3)
	picks := map[string]int64{}
	for range 300 {
		got, err := r.view.Pick(ctx, "p")
		if err != nil {
			t.Fatal(err)
		}
		picks[got.KeyID]++
	}
	parked := res.KeyIDs[0]
	if _, err := r.store.Report(ctx, "p", parked, store.Failure{Kind: failure.QuotaExhausted, Reason: "quota"}); err != nil {
		t.Fatal(err)
	}
	waitLoaded(t, r, "p", 2) // the parked key left the view with its counts pending
	r.view.Flush(ctx)
	for _, id := range res.KeyIDs {
		h, err := r.rdb.HMGet(ctx, "kb:{p}:k:"+id, "nl", "lu").Result()
		if err != nil {
			t.Fatal(err)
		}
		nl, _ := strconv.ParseInt(h[0].(string), 10, 64)
		if nl != picks[id] {
			t.Errorf("key %s: Redis counts %d leases, view made %d", id, nl, picks[id])
		}
		if lu, _ := h[1].(string); picks[id] > 0 && lu == "" {
			t.Errorf("key %s: no last-used time", id)
		}
	}
}

// After Redis comes back empty, the view empties too (and the store then
// says the pool is empty); keys added afterwards are served again.
func TestResyncAfterRedisRestart(t *testing.T) {
	srv := redistest.Start(t)
	r := startReplica(t, srv.Addr)
	ctx := context.Background()
	if _, err := r.store.Add(ctx, "p", testSecrets("restart", 5)); err != nil {
		t.Fatal(err)
	}
	waitLoaded(t, r, "p", 5)
	srv.Restart()
	waitLoaded(t, r, "p", 0)
	var nk *store.NoKeyError
	if _, err := r.view.Pick(ctx, "p"); !errors.As(err, &nk) || nk.Total != 0 {
		t.Fatalf("Pick after Redis lost its data = %v, want an empty pool", err)
	}
	if _, err := r.store.Add(ctx, "p", testSecrets("after", 2)); err != nil {
		t.Fatal(err)
	}
	waitAgree(t, "p", r)
}

// silentlyPark moves a key out of active the way a lost notification would
// leave it: changed in Redis, nothing published.
func silentlyPark(t *testing.T, r *replica, pool, id string) {
	t.Helper()
	ctx := context.Background()
	p := "kb:{" + pool + "}:"
	_, err := r.rdb.TxPipelined(ctx, func(pipe redisPipe) error {
		pipe.HSet(ctx, p+"k:"+id, "st", "disabled")
		pipe.ZRem(ctx, p+"ix:active", id)
		pipe.ZAdd(ctx, p+"ix:disabled", zmember(id))
		pipe.SRem(ctx, p+"active", id)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// withLostChange returns a replica whose view still leases a key that Redis
// has parked without a notification, as a lost message would leave it.
func withLostChange(t *testing.T, srv *redistest.Server, opts ...view.Option) (r *replica, parked string) {
	t.Helper()
	r = startReplica(t, srv.Addr, opts...)
	res, err := r.store.Add(context.Background(), "p", testSecrets("lost", 4))
	if err != nil {
		t.Fatal(err)
	}
	waitLoaded(t, r, "p", 4)
	silentlyPark(t, r, "p", res.KeyIDs[2])
	return r, res.KeyIDs[2]
}

// A dropped subscription (messages lost meanwhile) is followed by a full
// resync as soon as the store has subscribed again.
func TestResyncAfterDroppedSubscription(t *testing.T) {
	srv := redistest.Start(t)
	r, parked := withLostChange(t, srv)
	if !r.view.Contains("p", parked) {
		t.Fatal("the view saw a change nobody announced")
	}
	admin := srv.Client()
	testkit.EventuallyWhy(t, waitLimit, poll, "the subscription is killed", func() (bool, string) {
		n, err := admin.ClientKillByFilter(context.Background(), "TYPE", "pubsub").Result()
		return err == nil && n > 0, "no pubsub client to kill yet"
	})
	waitAgree(t, "p", r)
}

// The periodic resync repairs what a lost notification left behind even
// when the connection never dropped.
func TestPeriodicResync(t *testing.T) {
	srv := redistest.Start(t)
	r, _ := withLostChange(t, srv, view.WithResyncInterval(50*time.Millisecond))
	waitAgree(t, "p", r)
}

// A pick from memory allocates nothing: its key id and secret point into
// the view's arena.
func TestPickFromMemoryAllocatesNothing(t *testing.T) {
	srv := redistest.Start(t)
	r := startReplica(t, srv.Addr, view.WithFlushInterval(time.Hour))
	ctx := context.Background()
	for _, pool := range []string{"uniform", "rr", "weighted", "least"} {
		if _, err := r.store.Add(ctx, pool, testSecrets(pool, 10)); err != nil {
			t.Fatal(err)
		}
		waitLoaded(t, r, pool, 10)
		if n := testing.AllocsPerRun(1000, func() { _, _ = r.view.Pick(ctx, pool) }); n != 0 {
			t.Errorf("%s: a pick allocates %.0f times", pool, n)
		}
	}
}

// Lease counts survive an outage exactly: a flush that cannot reach Redis
// keeps its numbered batch, later leases go into a later batch, and once
// Redis answers both land once each, in order: none lost, none doubled.
func TestLeaseCountsSurviveAnOutageExactly(t *testing.T) {
	srv := redistest.Start(t)
	px := redistest.StartProxy(t, srv.Addr)
	r := startReplica(t, px.Addr, view.WithFlushInterval(time.Hour))
	ctx := context.Background()
	res, err := r.store.Add(ctx, "p", testSecrets("outage-usage", 2))
	if err != nil {
		t.Fatal(err)
	}
	waitLoaded(t, r, "p", 2)
	pick := func(n int) {
		t.Helper()
		for range n {
			if _, err := r.view.Pick(ctx, "p"); err != nil {
				t.Fatal(err)
			}
		}
	}
	pick(100)
	px.Cut()
	fctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	if n := r.view.Flush(fctx); n != 0 {
		t.Fatalf("Flush during the outage wrote %d records", n)
	}
	cancel()
	pick(50)
	px.Restore()
	testkit.Eventually(t, waitLimit, poll, "the kept and the new counts to land", func() bool { return r.view.Flush(ctx) > 0 })
	r.view.Flush(ctx)
	var total int64
	for _, id := range res.KeyIDs {
		nl, err := r.rdb.HGet(ctx, "kb:{p}:k:"+id, "nl").Int64()
		if err != nil {
			t.Fatal(err)
		}
		total += nl
	}
	if total != 150 {
		t.Fatalf("Redis counts %d leases after the outage, the view made 150", total)
	}
}
