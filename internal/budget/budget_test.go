package budget

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/keybroker/keybroker/internal/config"
	"github.com/keybroker/keybroker/internal/redistest"
	"github.com/keybroker/keybroker/internal/secret"
	"github.com/keybroker/keybroker/internal/store"
	"github.com/keybroker/keybroker/internal/testkit"
)

// start is a window boundary for 2s windows: tests begin at a window's
// first millisecond.
var start = time.UnixMilli(1_800_000_000_000)

func policies(l config.Limits, tiers map[string]config.Limits) *config.Config {
	return &config.Config{Pools: map[string]config.Pool{"p": {Limits: l, Tiers: tiers}}}
}

func twoSeconds(reqs, toks int64) config.Limits {
	// per-minute figures that make reqs and toks per 2s window
	return config.Limits{RequestsPerMinute: reqs * 30, TokensPerMinute: toks * 30, Window: config.Duration(2 * time.Second)}
}

func newStore(t *testing.T) *store.Store {
	t.Helper()
	return store.New(redistest.Start(t).Client(), secret.NewIDs([]byte("budget-test")))
}

func TestWindowArithmetic(t *testing.T) {
	w := 2 * time.Second
	for _, c := range []struct {
		ms  int64
		win int64
	}{{0, 0}, {1999, 0}, {2000, 1}, {-1, -1}, {-2000, -1}, {-2001, -2}} {
		if got := WindowOf(time.UnixMilli(c.ms), w); got != c.win {
			t.Errorf("WindowOf(%dms) = %d, want %d", c.ms, got, c.win)
		}
	}
	if got := WindowEnd(WindowOf(start.Add(1500*time.Millisecond), w), w); !got.Equal(start.Add(w)) {
		t.Errorf("WindowEnd = %v, want %v", got, start.Add(w))
	}
}

func TestTakeSpendsOnlyWhatWasClaimed(t *testing.T) {
	clock := testkit.NewClock(start)
	tr := New(newStore(t), policies(twoSeconds(10, 0), nil), WithClock(clock.Now))
	tr.Track("p")
	p, _ := tr.Lookup("p")
	if p == nil {
		t.Fatal("a pool with declared limits is not budgeted")
	}
	if _, ok := p.Take("k1", clock.Now(), Cost{Uses: 1}); ok {
		t.Fatal("a key with no claimed slice was leased")
	}
	if err := tr.ClaimNow(context.Background(), "p"); err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		if _, ok := p.Take("k1", clock.Now(), Cost{Uses: 1}); !ok {
			break
		}
		n++
		if n%2 == 0 {
			if err := tr.ClaimNow(context.Background(), "p"); err != nil {
				t.Fatal(err)
			}
		}
		if n > 100 {
			t.Fatal("budget never ran out")
		}
	}
	if n != 10 {
		t.Errorf("one window admitted %d calls, want the limit of 10", n)
	}
	at, ok := p.RetryAt(clock.Now())
	if !ok || !at.Equal(start.Add(2*time.Second)) {
		t.Errorf("RetryAt = %v, %v; want the window's end %v", at, ok, start.Add(2*time.Second))
	}
	// The next window is whole again.
	clock.Advance(2 * time.Second)
	if err := tr.ClaimNow(context.Background(), "p"); err != nil {
		t.Fatal(err)
	}
	if _, ok := p.Take("k1", clock.Now(), Cost{Uses: 1}); !ok {
		t.Error("the next window did not reset the budget")
	}
}

func TestTokensAreReservedAndUsesCapped(t *testing.T) {
	clock := testkit.NewClock(start)
	tr := New(newStore(t), policies(twoSeconds(100, 1000), nil), WithClock(clock.Now))
	tr.Track("p")
	p, _ := tr.Lookup("p")
	p.Take("k", clock.Now(), Cost{Uses: 1}) // makes the key known
	k := (*p.keys.Load())["k"]
	k.mu.Lock()
	k.win, k.reqs, k.toks = WindowOf(clock.Now(), 2*time.Second), 5, 450
	k.mu.Unlock()
	if uses, ok := p.Take("k", clock.Now(), Cost{Uses: 10, Tokens: 100}); !ok || uses != 4 {
		t.Errorf("Take(10 uses of 100 tokens) with 5 calls and 450 tokens = %d, %v; want 4 (tokens bind)", uses, ok)
	}
	if _, ok := p.Take("k", clock.Now(), Cost{Uses: 1, Tokens: 100}); ok {
		t.Error("a call costing 100 tokens was admitted with 50 left")
	}
	if _, ok := p.Take("k", clock.Now(), Cost{Uses: 1, Tokens: 50}); !ok {
		t.Error("a call costing 50 tokens was refused with 50 left")
	}
}

func TestSlicesRollOverOnlyWhenClaimedAhead(t *testing.T) {
	k := newKey(Limit{Reqs: 10}, SourcePool)
	k.grant(ask{win: 0}, 3, 0, 3, 0)
	k.grant(ask{win: 1}, 4, 0, 4, 0)
	if _, ok := k.take(0, 0, 2000, 100, Cost{Uses: 3}); !ok {
		t.Fatal("window 0 slice not usable")
	}
	if n, ok := k.take(2000, 1, 4000, 100, Cost{Uses: 10}); !ok || n != 4 {
		t.Errorf("window 1 took %d, %v; want the 4 claimed ahead", n, ok)
	}
	if _, ok := k.take(4000, 2, 6000, 100, Cost{Uses: 1}); ok {
		t.Error("window 2 admitted without a claim")
	}
	// A slice granted for a window already gone is never spent.
	k.grant(ask{win: 1}, 5, 0, 9, 0)
	if _, ok := k.take(4001, 2, 6000, 100, Cost{Uses: 1}); ok {
		t.Error("a late grant for a past window was admitted")
	}
}

// TestLeasesNearTheEndAreChargedToBothWindows: a call leased in the last
// moments of a window may reach the provider in the next one, so it takes
// from both; without a slice of the next window it is not admitted there.
func TestLeasesNearTheEndAreChargedToBothWindows(t *testing.T) {
	k := newKey(Limit{Reqs: 10}, SourcePool)
	k.grant(ask{win: 0}, 5, 0, 5, 0)
	if _, ok := k.take(1950, 0, 2000, 100, Cost{Uses: 1}); ok {
		t.Fatal("a lease 50ms before the window's end was admitted with no slice of the next window")
	}
	k.grant(ask{win: 1}, 2, 0, 2, 0)
	if n, ok := k.take(1950, 0, 2000, 100, Cost{Uses: 5}); !ok || n != 2 {
		t.Fatalf("take near the end = %d, %v; want 2 (what the next window's slice holds)", n, ok)
	}
	if k.reqs != 3 || k.nreqs != 0 {
		t.Errorf("slices after = %d this window, %d next; want 3 and 0", k.reqs, k.nreqs)
	}
	if _, ok := k.take(2000, 1, 4000, 100, Cost{Uses: 1}); ok {
		t.Error("the next window admitted more than its slice held after the double charge")
	}
}

func TestClaimsAskAheadOfTheNextWindow(t *testing.T) {
	k := newKey(Limit{Reqs: 100}, SourcePool)
	k.grant(ask{win: 0}, 10, 0, 10, 0)
	k.take(100, 0, 2000, 100, Cost{Uses: 5})
	// Early in the window: top up the current one only.
	asks := k.plan("k", instant{now: 200, win: 0, end: 2000, tick: 50, window: 2000}, false, nil)
	if len(asks) != 1 || asks[0].win != 0 || asks[0].reqs != 25 {
		t.Errorf("plan early = %+v; want 25 more of window 0 (6 × 5 taken − 5 left)", asks)
	}
	// Close to the end: also the next window's first slice.
	k.take(1800, 0, 2000, 100, Cost{Uses: 1})
	asks = k.plan("k", instant{now: 1900, win: 0, end: 2000, tick: 50, window: 2000}, false, nil)
	if len(asks) == 0 || asks[len(asks)-1].win != 1 {
		t.Errorf("plan near the end = %+v; want a slice of window 1 too", asks)
	}
	// An idle key asks for nothing unless forced.
	idle := newKey(Limit{Reqs: 100}, SourcePool)
	idle.seen = -10
	if asks := idle.plan("i", instant{now: 5000, win: 2, end: 6000, tick: 50, window: 2000}, false, nil); len(asks) != 0 {
		t.Errorf("idle key planned %+v", asks)
	}
	if asks := idle.plan("i", instant{now: 5000, win: 2, end: 6000, tick: 50, window: 2000}, true, nil); len(asks) != 1 {
		t.Errorf("forced plan of an idle key = %+v, want one ask", asks)
	}
}

// TestReplicasNeverAdmitMoreThanTheLimit: three replicas share one count
// in Redis and each claims and spends as fast as it can; together they
// admit exactly the window's limit, never more.
func TestReplicasNeverAdmitMoreThanTheLimit(t *testing.T) {
	st := newStore(t)
	clock := testkit.NewClock(start.Add(100 * time.Millisecond))
	pol := policies(twoSeconds(50, 0), nil)
	var trs []*Tracker
	for range 3 {
		tr := New(st, pol, WithClock(clock.Now))
		tr.Track("p")
		trs = append(trs, tr)
	}
	var mu sync.Mutex
	admitted := 0
	var wg sync.WaitGroup
	for _, tr := range trs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, _ := tr.Lookup("p")
			for misses := 0; misses < 20; {
				if _, ok := p.Take("k", clock.Now(), Cost{Uses: 1}); ok {
					mu.Lock()
					admitted++
					mu.Unlock()
					continue
				}
				misses++
				_ = tr.ClaimNow(context.Background(), "p")
			}
		}()
	}
	wg.Wait()
	if admitted != 50 {
		t.Errorf("three replicas admitted %d calls in one window, want the limit of 50", admitted)
	}
}

func TestObservationsSetFloorsLearnLimitsAndPark(t *testing.T) {
	st := newStore(t)
	clock := testkit.NewClock(start.Add(500 * time.Millisecond))
	// No limits declared: everything is learned.
	pol := &config.Config{Pools: map[string]config.Pool{"p": {Limits: config.Limits{Window: config.Duration(2 * time.Second)}}}}
	tr := New(st, pol, WithClock(clock.Now))
	tr.Track("p")
	if p, _ := tr.Lookup("p"); p != nil {
		t.Fatal("a pool without limits is budgeted before anything is learned")
	}
	ctx := context.Background()
	obs := Observation{ID: "k", At: clock.Now(),
		Reqs: Header{Limit: 100, Remaining: 40, HasLimit: true, HasRemaining: true, Reset: 1500 * time.Millisecond}}
	if err := tr.Observe(ctx, "p", []Observation{obs}); err != nil {
		t.Fatal(err)
	}
	tr.reload(ctx, tr.Lookup0("p"))
	p, _ := tr.Lookup("p")
	if p == nil {
		t.Fatal("a learned limit did not turn budgets on")
	}
	if l, src := p.Limit("k"); l.Reqs != 100 || src != SourceLearned {
		t.Errorf("Limit = %+v %v, want 100 learned", l, src)
	}
	used, err := st.BudgetUsed(ctx, "p", WindowOf(clock.Now(), 2*time.Second), []string{"k"})
	if err != nil {
		t.Fatal(err)
	}
	if used["k"][0] != 60 {
		t.Errorf("window count = %d, want the floor 100 − 40 = 60", used["k"][0])
	}
	// The provider says nothing is left: the key is parked until its reset.
	obs.Reqs.Remaining = 0
	obs.Reqs.Reset = 700 * time.Millisecond
	if err := tr.Observe(ctx, "p", []Observation{obs}); err != nil {
		t.Fatal(err)
	}
	_ = tr.ClaimNow(ctx, "p")
	if _, ok := p.Take("k", clock.Now(), Cost{Uses: 1}); ok {
		t.Error("a key the provider said was spent was leased")
	}
	if at, _ := p.RetryAt(clock.Now()); !at.Equal(start.Add(1200 * time.Millisecond)) {
		t.Errorf("RetryAt = %v, want the provider's reset %v", at, start.Add(1200*time.Millisecond))
	}
}

func TestTiersWinOverThePoolsLimits(t *testing.T) {
	st := newStore(t)
	ctx := context.Background()
	if err := st.SetTiers(ctx, "p", []string{"big"}, []string{"t2"}); err != nil {
		t.Fatal(err)
	}
	tr := New(st, policies(twoSeconds(10, 0), map[string]config.Limits{"t2": {RequestsPerMinute: 3000}}))
	tr.Track("p")
	tr.reload(ctx, tr.Lookup0("p"))
	p, _ := tr.Lookup("p")
	if l, src := p.Limit("big"); l.Reqs != 100 || src != SourceKey {
		t.Errorf("tiered key: %+v %v, want 100 per window from its tier", l, src)
	}
	if l, src := p.Limit("other"); l.Reqs != 10 || src != SourcePool {
		t.Errorf("other key: %+v %v, want the pool's 10", l, src)
	}
}

// TestSlicesShrinkAsTheWindowEnds: what a replica holds when a window ends
// is lost to every replica, so near the end a slice covers only the ticks
// left at the key's rate, not the six ticks it covers mid-window.
func TestSlicesShrinkAsTheWindowEnds(t *testing.T) {
	for _, tt := range []struct {
		now  int64
		want int64
	}{
		{now: 1000, want: 30}, // 20 ticks left: six ticks of 5
		{now: 1860, want: 15}, // 140 ms left: three ticks
		{now: 1960, want: 5},  // one tick
	} {
		k := newKey(Limit{Reqs: 100}, SourcePool)
		k.grant(ask{win: 0}, 5, 0, 5, 0)
		k.take(tt.now-10, 0, 2000, 0, Cost{Uses: 5})
		asks := k.plan("k", instant{now: tt.now, win: 0, end: 2000, tick: 50, window: 2000}, false, nil)
		if len(asks) == 0 || asks[0].win != 0 || asks[0].reqs != tt.want {
			t.Errorf("at %d ms: plan = %+v; want %d of window 0", tt.now, asks, tt.want)
		}
	}
	// A key used less than once a tick still gets one call near the end,
	// not the two it gets mid-window.
	k := newKey(Limit{Reqs: 100}, SourcePool)
	k.seen = 0
	if asks := k.plan("k", instant{now: 1960, win: 0, end: 2000, tick: 50, window: 2000}, false, nil); len(asks) == 0 || asks[0].reqs != 1 {
		t.Errorf("idle-ish key near the end planned %+v; want one call", asks)
	}
	if asks := k.plan("k", instant{now: 500, win: 0, end: 2000, tick: 50, window: 2000}, false, nil); len(asks) == 0 || asks[0].reqs != 2 {
		t.Errorf("idle-ish key mid-window planned %+v; want two calls", asks)
	}
}

// TestOneBigLeaseDoesNotClaimTheWindow: a lease that takes 32 uses at once
// (a client reusing its lease) must not make the key's rate look like a
// whole window's budget. The replica's claim goes by at most twice the
// even pace (100 calls over 40 ticks: 5 a tick, 30 over six ticks), so
// the other replicas keep their share.
func TestOneBigLeaseDoesNotClaimTheWindow(t *testing.T) {
	k := newKey(Limit{Reqs: 100}, SourcePool)
	k.grant(ask{win: 0}, 40, 0, 40, 0)
	if n, ok := k.take(100, 0, 2000, 100, Cost{Uses: 32}); !ok || n != 32 {
		t.Fatalf("take 32 = %d, %v", n, ok)
	}
	asks := k.plan("k", instant{now: 150, win: 0, end: 2000, tick: 50, window: 2000}, false, nil)
	if len(asks) != 1 || asks[0].reqs != 30-8 {
		t.Errorf("plan after one 32-use lease = %+v; want 22 (six ticks at twice the even pace, 30, less the 8 left)", asks)
	}
	asks = k.plan("k", instant{now: 160, win: 0, end: 2000, tick: 50, window: 2000}, true, nil)
	if len(asks) != 1 || asks[0].reqs > 30-8 {
		t.Errorf("forced plan = %+v; want at most 22", asks)
	}
}

// A broken upstream that answers "nothing left, back in a day" for every
// key, or a caller with a valid lease who reports so, parks a key for one
// window at most and never lifts the count past the limit: the key leases
// again in the next window.
func TestAReportCannotParkAKeyPastItsWindow(t *testing.T) {
	st := newStore(t)
	clock := testkit.NewClock(start.Add(500 * time.Millisecond))
	tr := New(st, policies(twoSeconds(10, 0), nil), WithClock(clock.Now))
	p := tr.Track("p")
	ctx := context.Background()
	for _, id := range []string{"k1", "k2"} {
		p.key(id)
		obs := Observation{ID: id, At: clock.Now(),
			Reqs: Header{Limit: 1_000_000, Remaining: 0, HasLimit: true, HasRemaining: true, Reset: 24 * time.Hour}}
		if err := tr.Observe(ctx, "p", []Observation{obs}); err != nil {
			t.Fatal(err)
		}
	}
	used, err := st.BudgetUsed(ctx, "p", WindowOf(clock.Now(), 2*time.Second), []string{"k1", "k2"})
	if err != nil {
		t.Fatal(err)
	}
	for id, u := range used {
		if u[0] > 10 {
			t.Errorf("%s: count %d after the report; the declared limit is 10", id, u[0])
		}
	}
	if at, ok := p.RetryAt(clock.Now()); !ok || at.After(start.Add(2500*time.Millisecond)) {
		t.Errorf("RetryAt = %v; want within one window of the report (by %v)", at, start.Add(2500*time.Millisecond))
	}
	clock.Advance(2600 * time.Millisecond) // past the park, in the next window
	if err := tr.ClaimNow(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	if _, ok := p.Take("k1", clock.Now(), Cost{Uses: 1}); !ok {
		t.Error("the key is still parked a window after the report")
	}
}
