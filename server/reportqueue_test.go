package server

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/lease"
	"github.com/keybroker/keybroker/internal/redistest"
	"github.com/keybroker/keybroker/internal/secret"
	"github.com/keybroker/keybroker/internal/store"
	"github.com/keybroker/keybroker/internal/testkit"
)

// Reports made while Redis is out of reach are kept, in order, up to the
// buffer, and applied when it is back; past the buffer they are refused.
func TestReportsSurviveAnOutage(t *testing.T) {
	srv := redistest.Start(t)
	proxy := redistest.StartProxy(t, srv.Addr)
	conn, err := store.Open(t.Context(), store.RedisConfig{Addrs: []string{proxy.Addr}, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	st := conn.Store(secret.NewIDs([]byte("k")))
	svc := New(st, lease.NewSigner([]byte("l")), WithReportBuffer(3))
	ctx := context.Background()
	// A third key: reports never park a pool's last active key.
	added, err := st.Add(ctx, "p", []string{"sk-outage-report-000001", "sk-outage-report-000002", "sk-outage-report-000003"})
	if err != nil {
		t.Fatal(err)
	}
	a, b := added.KeyIDs[0], added.KeyIDs[1]
	report := func(id string, status int32, code string) (*pb.ReportFailureResponse, error) {
		return svc.ReportFailure(ctx, &pb.ReportFailureRequest{Pool: "p", Key: &pb.ReportFailureRequest_KeyId{KeyId: id},
			HttpStatus: status, ErrorCode: code, RetryAfter: durationpb.New(time.Hour)})
	}

	proxy.Cut()
	for _, r := range []struct {
		id     string
		status int32
		code   string
	}{{a, 429, "rate_limit_exceeded"}, {a, 401, "invalid_api_key"}, {b, 429, "insufficient_quota"}} {
		resp, err := report(r.id, r.status, r.code)
		if err != nil || !resp.GetQueued() || resp.GetState() != pb.KeyState_KEY_STATE_UNSPECIFIED {
			t.Fatalf("report during the outage = %v, %v; want queued", resp, err)
		}
	}
	if _, err := report(b, 401, "invalid_api_key"); status.Code(err) != codes.Unavailable {
		t.Fatalf("report past the buffer = %v, want UNAVAILABLE", err)
	}
	if n := svc.PendingReports(); n != 3 {
		t.Fatalf("%d reports pending, want 3", n)
	}
	svc.drainReports(ctx) // still cut: nothing lost
	if n := svc.PendingReports(); n != 3 {
		t.Fatalf("a replay during the outage lost reports: %d pending", n)
	}

	proxy.Restore()
	replay, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { svc.ReplayReports(replay, 20*time.Millisecond); close(done) }()
	testkit.Eventually(t, 10*time.Second, 10*time.Millisecond, "the queued reports are applied", func() bool { return svc.PendingReports() == 0 })
	stop()
	<-done

	page, err := st.List(ctx, "p", store.Query{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]store.State{}
	for _, k := range page.Keys {
		states[k.ID] = k.State
	}
	if states[a] != store.Suspect || states[b] != store.Disabled {
		t.Fatalf("after replay a=%s b=%s, want suspect and disabled", states[a], states[b])
	}
	hist, _, err := st.History(ctx, "p", store.HistoryQuery{KeyID: a, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var order []store.State
	for i := len(hist) - 1; i >= 0; i-- { // oldest first
		order = append(order, hist[i].To)
	}
	if len(order) != 3 || order[1] != store.CoolingDown || order[2] != store.Suspect {
		t.Fatalf("key a went %v; the queued reports were applied out of order", order)
	}
}
