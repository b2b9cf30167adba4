package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/redistest"
	"github.com/keybroker/keybroker/internal/testkit"
)

// soakLedger is what the clients saw, to hold the brokers to account.
type soakLedger struct {
	mu       sync.Mutex
	leases   map[string][]time.Time // key id → when leased
	acked    map[string]int         // key id → reports the broker accepted
	queued   map[string]int         // key id → of those, accepted queued (Redis away)
	errored  map[string]int         // key id → reports whose fate is unknown
	ops      atomic.Int64
	refusals atomic.Int64 // UNAVAILABLE and friends during faults
}

func (l *soakLedger) lease(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.leases[id] = append(l.leases[id], time.Now())
}

func (l *soakLedger) report(id string, ok, queued bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ok {
		l.acked[id]++
		if queued {
			l.queued[id]++
		}
	} else {
		l.errored[id]++
	}
}

// TestSoak runs three broker processes, each with its worker, against one
// persistent Redis under steady load from several clients, kills and
// restarts a broker and Redis on a schedule, and then checks that nothing
// was lost: every key there exactly once (the rejected ones quarantined,
// never deleted), no quarantined key leased after it was quarantined, every accepted failure report applied exactly once, each key's
// audit trail one unbroken chain, and goroutines and memory stable.
//
// It runs when KEYBROKER_SOAK is a duration (scripts/test.sh: 30s;
// docs/reliability.md records longer runs).
func TestSoak(t *testing.T) {
	run := os.Getenv("KEYBROKER_SOAK")
	if run == "" {
		t.Skip("set KEYBROKER_SOAK=30s to run the soak test")
	}
	length, err := time.ParseDuration(run)
	if err != nil || length < 10*time.Second {
		t.Fatalf("KEYBROKER_SOAK=%q: want a duration of at least 10s", run)
	}
	rs := redistest.StartPersistent(t)
	alive, dead := soakSecrets("alive", 190), soakSecrets("dead", 10)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.Header.Get("Authorization"), "-dead-") {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":{"code":"invalid_api_key","message":"Incorrect API key provided"}}`))
			return
		}
		_, _ = w.Write([]byte(`{"object":"list","data":[]}`))
	}))
	defer upstream.Close()
	cfg := filepath.Join(t.TempDir(), "pools.yaml")
	writeFile(t, cfg, "pools:\n  soak:\n    provider: openai\n    base_url: "+upstream.URL+
		"\n    validator: {kind: openai, interval: 2s, retry_interval: 1s, disabled_interval: 5s, timeout: 2s, rate_limit: 1000, concurrency: 8}"+
		// The 10 rejected keys are 5 % of the pool: the removal brake lets
		// them all be quarantined (a broken upstream is the brake's test,
		// not the soak's), each confirmed a second after its first strike.
		"\n    max_removals: 10\n    confirm_delay: 1s\n")

	addrs, metricsAddrs := make([]string, 3), make([]string, 3)
	brokers := make([]*brokerProc, 3)
	start := func(i int) {
		brokers[i] = startBrokerAt(t, addrs[i], nil, "--redis", rs.Addr, "--config", cfg, "--metrics-addr", metricsAddrs[i],
			"--worker-poll", "50ms", "--wake-interval", "100ms", "--health-interval", "200ms", "--worker-name", fmt.Sprint("soak", i))
	}
	for i := range brokers {
		addrs[i], metricsAddrs[i] = freeAddr(t), freeAddr(t)
		start(i)
	}
	added, err := brokers[0].client.Add(ctxT(t), &pb.AddRequest{Pool: "soak", Secrets: append(append([]string{}, alive...), dead...)})
	if err != nil {
		t.Fatal(err)
	}
	aliveIDs, deadIDs := added.GetKeyIds()[:len(alive)], added.GetKeyIds()[len(alive):]

	ledger := &soakLedger{leases: map[string][]time.Time{}, acked: map[string]int{}, queued: map[string]int{}, errored: map[string]int{}}
	ctx, cancel := context.WithTimeout(context.Background(), length)
	defer cancel()
	var wg sync.WaitGroup
	for c := range 4 {
		wg.Add(1)
		go func() { defer wg.Done(); soakClient(t, ctx, c, addrs, deadIDs, ledger) }()
	}
	removed := soakWatchQuarantines(t, ctx, brokers[0].addr, deadIDs)
	warm := make(chan soakSample, 1)
	faults := soakFaults(t, ctx, length, rs, brokers, start, metricsAddrs[0], warm)
	wg.Wait()
	<-faults

	soakDrain(t, metricsAddrs)
	b := brokers[0]
	state := soakSettle(t, b, deadIDs)

	soakCheckKeys(t, state, aliveIDs, deadIDs)
	for _, id := range deadIDs {
		delete(state, id) // the checks below are about the good keys
	}
	soakCheckQuarantinedNeverLeased(t, <-removed, deadIDs, ledger)
	soakCheckReports(t, state, ledger)
	soakCheckAudit(t, b, aliveIDs, state)
	soakCheckStable(t, <-warm, soakSampleOf(t, metricsAddrs[0]))
	t.Logf("soak: %s, 3 brokers with workers, 4 clients, %d operations (%d refused during faults), faults: 2 broker kills (SIGKILL) and 1 Redis kill (2s down), keys lost: 0, reports lost: 0",
		length, ledger.ops.Load(), ledger.refusals.Load())
}

func soakSecrets(kind string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("sk-soak-%s-%05d-0123456789", kind, i)
	}
	return out
}

// soakClient leases keys round robin across the brokers and reports a 429
// for one lease in ten, until ctx ends.
func soakClient(t *testing.T, ctx context.Context, seed int, addrs, deadIDs []string, l *soakLedger) {
	clients := make([]pb.KeyBrokerServiceClient, len(addrs))
	for i, a := range addrs {
		conn, err := grpc.NewClient(a, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		clients[i] = pb.NewKeyBrokerServiceClient(conn)
	}
	r := rand.New(rand.NewPCG(uint64(seed), 7))
	for i := 0; ctx.Err() == nil; i++ {
		c := clients[i%len(clients)]
		cctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		resp, err := c.GetRandom(cctx, &pb.GetRandomRequest{Pool: "soak"})
		l.ops.Add(1)
		if err == nil {
			l.lease(resp.GetKeyId())
			if r.IntN(10) == 0 && !slices.Contains(deadIDs, resp.GetKeyId()) {
				rep, rerr := c.ReportFailure(cctx, &pb.ReportFailureRequest{Pool: "soak", Key: &pb.ReportFailureRequest_KeyId{KeyId: resp.GetKeyId()},
					HttpStatus: 429, ErrorCode: "rate_limit_exceeded", RetryAfter: durationpb.New(300 * time.Millisecond)})
				l.ops.Add(1)
				l.report(resp.GetKeyId(), rerr == nil, rep.GetQueued())
				soakTolerate(t, l, rerr)
			}
		} else {
			soakTolerate(t, l, err)
		}
		cancel()
		time.Sleep(5 * time.Millisecond) // pace the load, not a wait
	}
}

// soakTolerate accepts what faults cause and nothing else.
func soakTolerate(t *testing.T, l *soakLedger, err error) {
	switch status.Code(err) {
	case codes.OK:
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled:
		l.refusals.Add(1)
	default:
		t.Errorf("unexpected error under soak: %v", err)
	}
}

type soakSample struct{ goroutines, rss float64 }

func soakSampleOf(t *testing.T, metricsAddr string) soakSample {
	m, _ := scrape(t, metricsAddr)
	return soakSample{goroutines: m["go_goroutines"], rss: m["process_resident_memory_bytes"]}
}

// soakFaults kills broker 1, then Redis (for 2s), then broker 2, spread
// over the run, and samples broker 0 once it is warm.
func soakFaults(t *testing.T, ctx context.Context, length time.Duration, rs *redistest.Server, brokers []*brokerProc, start func(int), metrics0 string, warm chan<- soakSample) <-chan struct{} {
	done := make(chan struct{})
	at := func(frac float64) bool {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(time.Duration(float64(length) * frac)):
			return true
		}
	}
	kill := func(i int) {
		b := brokers[i]
		if err := b.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Errorf("kill broker %d: %v", i, err) // the fault did not happen
		}
		<-b.exited //nolint:errcheck // drains "signal: killed" (`_ =` trips S1005)
		b.exited <- nil
		time.Sleep(500 * time.Millisecond) // the fault: the broker stays down a while
		start(i)
	}
	go func() {
		defer close(done)
		if at(0.15) {
			warm <- soakSampleOf(t, metrics0)
		}
		if at(0.10) {
			kill(1)
		}
		if at(0.25) {
			rs.Stop()
			time.Sleep(2 * time.Second) // the fault: Redis stays down for 2s
			rs.Restart()
		}
		if at(0.25) {
			kill(2)
		}
	}()
	return done
}

// soakDrain waits until no broker holds failure reports for Redis.
func soakDrain(t *testing.T, metricsAddrs []string) {
	testkit.EventuallyWhy(t, time.Minute, 100*time.Millisecond, "every queued failure report reaches Redis", func() (bool, string) {
		pending := 0.0
		for _, a := range metricsAddrs {
			m, _ := scrape(t, a)
			pending += m["keybroker_report_queue_length"]
		}
		return pending == 0, fmt.Sprintf("%v reports pending", pending)
	})
}

// soakState lists every key of the soak pool.
func soakState(t *testing.T, b *brokerProc) map[string]*pb.Key {
	out := map[string]*pb.Key{}
	req := &pb.GetAllRequest{Pool: "soak", PageSize: 1000}
	for {
		page, err := b.client.GetAll(ctxT(t), req)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range page.GetKeys() {
			if _, dup := out[k.GetKeyId()]; dup {
				t.Errorf("key %s listed twice", k.GetKeyId())
			}
			out[k.GetKeyId()] = k
		}
		if page.GetNextPageToken() == "" {
			return out
		}
		req.PageToken = page.GetNextPageToken()
	}
}

// soakSettle waits until the workers have quarantined every rejected key
// and every other key is active again (the cooldowns of the last reports
// ended and were woken), so the state it returns no longer moves under
// the checks.
func soakSettle(t *testing.T, b *brokerProc, deadIDs []string) map[string]*pb.Key {
	var state map[string]*pb.Key
	testkit.EventuallyWhy(t, time.Minute, 100*time.Millisecond, "the rejected keys are quarantined and the rest active", func() (bool, string) {
		state = soakState(t, b)
		left, idle := 0, 0
		for _, id := range deadIDs {
			if state[id].GetState() != pb.KeyState_KEY_STATE_QUARANTINED {
				left++
			}
		}
		for id, k := range state {
			if !slices.Contains(deadIDs, id) && k.GetState() != pb.KeyState_KEY_STATE_ACTIVE {
				idle++
			}
		}
		return left == 0 && idle == 0, fmt.Sprintf("%d rejected keys not quarantined, %d good keys not active", left, idle)
	})
	return state
}

// soakCheckKeys requires every key, good or rejected, in the pool exactly
// once: the worker quarantines, it never deletes.
func soakCheckKeys(t *testing.T, state map[string]*pb.Key, aliveIDs, deadIDs []string) {
	if len(state) != len(aliveIDs)+len(deadIDs) {
		t.Errorf("pool holds %d keys, want exactly the %d added", len(state), len(aliveIDs)+len(deadIDs))
	}
	for _, id := range append(append([]string{}, aliveIDs...), deadIDs...) {
		if _, ok := state[id]; !ok {
			t.Errorf("key %s was lost", id)
		}
	}
}

// soakWatchQuarantines notes when each rejected key is first seen
// quarantined (listing the pool every 100ms), so the check below does not
// depend on the audit trail, whose length is capped.
func soakWatchQuarantines(t *testing.T, ctx context.Context, addr string, deadIDs []string) <-chan map[string]time.Time {
	out := make(chan map[string]time.Time, 1)
	go func() {
		seen := map[string]time.Time{}
		defer func() { out <- seen }()
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		c := pb.NewKeyBrokerServiceClient(conn)
		for ctx.Err() == nil && len(seen) < len(deadIDs) {
			cctx, cancel := context.WithTimeout(ctx, time.Second)
			page, err := c.GetAll(cctx, &pb.GetAllRequest{Pool: "soak", PageSize: 1000, State: pb.KeyState_KEY_STATE_QUARANTINED})
			cancel()
			if err == nil && page.GetNextPageToken() == "" {
				for _, k := range page.GetKeys() {
					if _, ok := seen[k.GetKeyId()]; !ok && slices.Contains(deadIDs, k.GetKeyId()) {
						seen[k.GetKeyId()] = time.Now()
					}
				}
			}
			time.Sleep(100 * time.Millisecond) // the sampling period, not a wait
		}
	}()
	return out
}

// soakCheckQuarantinedNeverLeased fails if any client leased a rejected
// key more than a second after it was seen quarantined (the view's
// propagation is milliseconds; a second leaves room for a loaded machine).
func soakCheckQuarantinedNeverLeased(t *testing.T, seen map[string]time.Time, deadIDs []string, l *soakLedger) {
	for _, id := range deadIDs {
		at0, ok := seen[id]
		if !ok {
			continue // quarantined after the run's load ended: nothing to check
		}
		for _, at := range l.leases[id] {
			if at.After(at0.Add(time.Second)) {
				t.Errorf("quarantined key %s was leased %s after it was seen quarantined", id, at.Sub(at0))
			}
		}
	}
}

// soakCheckReports holds the brokers to every report they accepted: each
// applied once, none lost, and no more than the reports whose answer the
// client never got could add. A report accepted queued (Redis away) is
// the exception, as documented: one repeating a queued report of the same
// key and kind is folded into it (it would change nothing), and a broker
// killed (SIGKILL) during the outage loses its buffer.
func soakCheckReports(t *testing.T, state map[string]*pb.Key, l *soakLedger) {
	acked, applied := 0, int64(0)
	for id, k := range state {
		acked += l.acked[id]
		applied += k.GetFailureCount()
		if k.GetFailureCount() < int64(l.acked[id]-l.queued[id]) {
			t.Errorf("key %s: %d reports accepted (%d of them queued), %d applied: reports were lost", id, l.acked[id], l.queued[id], k.GetFailureCount())
		}
		if k.GetFailureCount() > int64(l.acked[id]+l.errored[id]) {
			t.Errorf("key %s: %d reports applied, more than the %d sent: a report was applied twice", id, k.GetFailureCount(), l.acked[id]+l.errored[id])
		}
	}
	if acked == 0 {
		t.Error("no report was accepted: the soak did not exercise reports")
	}
	t.Logf("reports: %d accepted, %d applied", acked, applied)
}

// soakCheckAudit requires every key's history to be one chain: each
// change starts where the previous ended, and the last ends in the key's
// state.
func soakCheckAudit(t *testing.T, b *brokerProc, aliveIDs []string, state map[string]*pb.Key) {
	for _, id := range aliveIDs {
		var events []*pb.KeyEvent
		req := &pb.GetKeyHistoryRequest{Pool: "soak", KeyId: id, PageSize: 1000}
		for {
			h, err := b.client.GetKeyHistory(ctxT(t), req)
			if err != nil {
				t.Fatal(err)
			}
			events = append(events, h.GetEvents()...)
			if h.GetNextPageToken() == "" {
				break
			}
			req.PageToken = h.GetNextPageToken()
		}
		// The trail's own order is the order of the changes (times can tie
		// within a millisecond); put it oldest first.
		if n := len(events); n > 1 && events[0].GetTime().AsTime().After(events[n-1].GetTime().AsTime()) {
			slices.Reverse(events)
		}
		for i := 1; i < len(events); i++ {
			if events[i].GetPreviousState() != events[i-1].GetState() {
				t.Errorf("key %s: audit trail breaks: %s then %s→%s", id, events[i-1].GetState(), events[i].GetPreviousState(), events[i].GetState())
				break
			}
		}
		if n := len(events); n == 0 || events[n-1].GetState() != state[id].GetState() {
			t.Errorf("key %s: trail ends in %v, key is %s", id, events, state[id].GetState())
		}
	}
}

func soakCheckStable(t *testing.T, warm, end soakSample) {
	t.Logf("broker 0: goroutines %v → %v, RSS %.1f → %.1f MB", warm.goroutines, end.goroutines, warm.rss/1e6, end.rss/1e6)
	if end.goroutines > warm.goroutines+25 {
		t.Errorf("goroutines grew from %v to %v", warm.goroutines, end.goroutines)
	}
	if end.rss > warm.rss*1.5+20e6 {
		t.Errorf("memory grew from %.1f MB to %.1f MB", warm.rss/1e6, end.rss/1e6)
	}
}
