package budgetbench

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/keybroker/keybroker/client"
	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/config"
	"github.com/keybroker/keybroker/internal/redistest"
	"github.com/keybroker/keybroker/internal/testkit"
)

// e2e is a broker over a real Redis in front of the enforcing fake, all
// on one settable clock that starts at a window boundary: 5 keys of 10
// calls and 1000 tokens per 2s window.
type e2e struct {
	clock *testkit.Clock
	up    *upstream
	b     *replica
}

const (
	e2eKeys   = 5
	e2eReqs   = 10
	e2eToks   = 1000
	e2eWindow = 2 * time.Second
)

func newE2E(t *testing.T) *e2e {
	t.Helper()
	// Near the wall clock, at a window boundary: the broker's contact with
	// Redis is timed on the wall clock, and its leases on this one.
	clock := testkit.NewClock(time.Now().Truncate(e2eWindow).Add(e2eWindow))
	up := newUpstream(e2eWindow, 0, e2eReqs, e2eToks, clock.Now)
	t.Cleanup(up.Close)
	win := config.Duration(e2eWindow)
	declared := config.Pool{Limits: config.Limits{RequestsPerMinute: e2eReqs * 30, TokensPerMinute: e2eToks * 30, Window: win},
		Tiers: map[string]config.Limits{"big": {RequestsPerMinute: 40 * 30}}}
	pol := &config.Config{
		Defaults: config.Pool{Limits: config.Limits{Window: win}},
		Pools: map[string]config.Pool{"declared": declared, "reused": declared,
			"learned": {Selection: config.RoundRobin, Limits: config.Limits{Window: win}}},
	}
	b := startBroker(t, redistest.Start(t).Addr, pol, clock.Now)
	for _, pool := range []string{"declared", "reused", "reactive", "learned"} {
		if _, err := b.kb.Add(context.Background(), pool, keySecrets(e2eKeys)); err != nil {
			t.Fatal(err)
		}
	}
	return &e2e{clock: clock, up: up, b: b}
}

func (e *e2e) httpClient(pool string, opts ...client.TransportOption) *http.Client {
	return &http.Client{Transport: client.NewTransport(e.b.kb, pool, opts...)}
}

// burst sends n calls one after another, each costing 20 tokens, and
// waits until the Transport has sent the broker every answer's headers:
// this test's clock jumps whole windows in an instant, so a report still
// on its way would land in the next window.
func (e *e2e) burst(t *testing.T, hc *http.Client, n int) *outcome {
	t.Helper()
	o := &outcome{}
	for range n {
		call(context.Background(), hc, e.up.URL, 20, o)
	}
	tr := hc.Transport.(*client.Transport)
	want := o.ok.Load() + o.upstream429.Load()
	testkit.Eventually(t, 10*time.Second, 5*time.Millisecond, "usage reports sent", func() bool {
		s := tr.UsageStats()
		return s.Sent+s.Dropped >= want
	})
	return o
}

// TestBudgetsRefuseWhatTheUpstreamWould: callers flood a pool with 80
// calls per window against a capacity of 50 (5 keys × 10), at an upstream
// that enforces its limits. Reactive selection (today's) lets calls reach
// the provider until each key has drawn a 429; with budgets the broker
// admits exactly the capacity and refuses the rest itself, with
// NO_BUDGET and a RetryInfo, and not one call draws a 429.
func TestBudgetsRefuseWhatTheUpstreamWould(t *testing.T) {
	e := newE2E(t)
	capacity := int64(e2eKeys * e2eReqs)

	reactive := e.burstNoReports(e.httpClient("reactive", client.WithoutUsageReports()), 80)
	if reactive.upstream429.Load() == 0 {
		t.Fatalf("reactive selection drew no 429 (ok %d): the fake does not enforce, the test proves nothing", reactive.ok.Load())
	}
	e.clock.Advance(e2eWindow) // the same secrets, a fresh window at the fake

	for _, c := range []struct {
		pool string
		opts []client.TransportOption
	}{
		{"declared", nil},
		{"reused", []client.TransportOption{client.WithLeaseReuse(0)}},
	} {
		t.Run(c.pool, func(t *testing.T) {
			for w := range 2 {
				// A Transport per window: a reused lease's uses last until
				// its window ends on the wall clock, which this test's
				// clock does not move.
				o := e.burst(t, e.httpClient(c.pool, c.opts...), 80)
				if got := o.upstream429.Load(); got != 0 {
					t.Errorf("window %d: %d calls drew an upstream 429", w, got)
				}
				if got := o.ok.Load(); got != capacity {
					t.Errorf("window %d: %d calls succeeded, want the capacity %d", w, got, capacity)
				}
				if got := o.refused.Load(); got != 80-capacity || o.refusedNoRetry.Load() != 0 || o.failed.Load() != 0 {
					t.Errorf("window %d: refused %d (%d without RetryInfo), failed %d; want %d refused, all with RetryInfo",
						w, got, o.refusedNoRetry.Load(), o.failed.Load(), 80-capacity)
				}
				e.clock.Advance(e2eWindow)
			}
		})
	}
}

// TestBudgetsAreLearnedFromHeaders: a pool that declares no limits is
// budgeted by what the provider's x-ratelimit-* headers, sent back by
// the Transport in the background, teach the broker; GetAll shows it.
func TestBudgetsAreLearnedFromHeaders(t *testing.T) {
	e := newE2E(t)
	hc := e.httpClient("learned")
	// Learning only: every key answers a few times (round robin, and
	// enough calls that a pick from Redis, before the view has loaded the
	// pool, misses no key but once in thousands of runs).
	e.burst(t, hc, 40)
	testkit.Eventually(t, 10*time.Second, 20*time.Millisecond, "every key's limits learned from the headers", func() bool {
		keys := e.keys(t, "learned")
		for _, k := range keys {
			if k.GetBudget().GetSource() != "learned" || k.GetBudget().GetRequestsLimit() != e2eReqs {
				return false
			}
		}
		return len(keys) == e2eKeys
	})
	e.clock.Advance(e2eWindow)
	o := e.burst(t, hc, 80)
	if o.upstream429.Load() != 0 || o.ok.Load() != e2eKeys*e2eReqs {
		t.Errorf("with learned limits: %d ok, %d upstream 429s; want %d ok and none", o.ok.Load(), o.upstream429.Load(), e2eKeys*e2eReqs)
	}
	for _, k := range e.keys(t, "learned") {
		b := k.GetBudget()
		if b.GetRequestsRemaining() != 0 || !b.GetResetTime().AsTime().Equal(e.clock.Now().Truncate(e2eWindow).Add(e2eWindow)) {
			t.Errorf("key %s budget after the burst = %v, want none remaining until the window's end", k.GetKeyId(), b)
		}
	}
}

func (e *e2e) keys(t *testing.T, pool string) []*pb.Key {
	t.Helper()
	resp, err := e.b.kb.GetAll(context.Background(), &pb.GetAllRequest{Pool: pool})
	if err != nil {
		t.Fatal(err)
	}
	return resp.GetKeys()
}

// burstNoReports is burst for a Transport that sends no usage reports.
func (e *e2e) burstNoReports(hc *http.Client, n int) *outcome {
	o := &outcome{}
	for range n {
		call(context.Background(), hc, e.up.URL, 20, o)
	}
	return o
}

// waitFor polls cond until it holds, for what the broker does in the
// background.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testkit.Eventually(t, 10*time.Second, 20*time.Millisecond, what, cond)
}
