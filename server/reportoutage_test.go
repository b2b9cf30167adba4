package server

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/config"
	"github.com/keybroker/keybroker/internal/lease"
	"github.com/keybroker/keybroker/internal/redistest"
	"github.com/keybroker/keybroker/internal/secret"
	"github.com/keybroker/keybroker/internal/store"
	"github.com/keybroker/keybroker/internal/view"
)

// outageRig is a service leasing from an in-memory view over a Redis the
// test can freeze (SIGSTOP) or cut off (proxy).
type outageRig struct {
	svc   *Service
	st    *store.Store
	view  *view.View
	redis *redistest.Server
	proxy *redistest.Proxy
	ids   []string
}

func newOutageRig(t *testing.T, redisTimeout time.Duration, secrets ...string) *outageRig {
	t.Helper()
	srv := redistest.Start(t)
	proxy := redistest.StartProxy(t, srv.Addr)
	conn, err := store.Open(t.Context(), store.RedisConfig{Addrs: []string{proxy.Addr}, Timeout: redisTimeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	st := conn.Store(secret.NewIDs([]byte("k")))
	added, err := st.Add(t.Context(), "p", secrets)
	if err != nil {
		t.Fatal(err)
	}
	vw := view.New(st, config.Default())
	if err := vw.Resync(t.Context(), "p"); err != nil {
		t.Fatal(err)
	}
	svc := New(st, lease.NewSigner([]byte("l")), WithSelector(vw))
	return &outageRig{svc: svc, st: st, view: vw, redis: srv, proxy: proxy, ids: added.KeyIDs}
}

func rateLimited(id string) *pb.ReportFailureRequest {
	return &pb.ReportFailureRequest{Pool: "p", Key: &pb.ReportFailureRequest_KeyId{KeyId: id}, HttpStatus: 429, ErrorCode: "rate_limit_exceeded"}
}

// A caller with a short deadline reports while Redis is frozen (SIGSTOP:
// connections stay open, nothing answers). The report must be queued
// within a small share of the caller's deadline; before, the store call
// ate the whole deadline and the report ended DEADLINE_EXCEEDED, lost.
func TestReportUnderAShortDeadlineIsQueuedNotLost(t *testing.T) {
	rig := newOutageRig(t, 5*time.Second, "sk-short-deadline-00001")
	rig.redis.Freeze()
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	start := time.Now()
	resp, err := rig.svc.ReportFailure(ctx, rateLimited(rig.ids[0]))
	t.Logf("report with Redis frozen, 1s deadline: queued=%v in %s", resp.GetQueued(), time.Since(start).Round(time.Millisecond))
	if err != nil || !resp.GetQueued() {
		t.Fatalf("report under a 1s deadline with Redis frozen = %v, %v; want queued", resp, err)
	}
	if ctx.Err() != nil {
		t.Fatal("the report used the caller's whole deadline")
	}
	if n := rig.svc.PendingReports(); n != 1 {
		t.Fatalf("%d reports pending, want 1", n)
	}
}

// A key reported rate limited during an outage (queued: true) must not be
// leased again from memory for the rest of the outage; before, it kept
// being leased (12-32 leases per report) until Redis came back.
func TestQueuedReportParksTheKeyInTheView(t *testing.T) {
	rig := newOutageRig(t, 200*time.Millisecond, "sk-parked-in-view-000001", "sk-parked-in-view-000002")
	reported, other := rig.ids[0], rig.ids[1]
	rig.proxy.Cut()
	resp, err := rig.svc.ReportFailure(t.Context(), rateLimited(reported))
	if err != nil || !resp.GetQueued() {
		t.Fatalf("report during the outage = %v, %v; want queued", resp, err)
	}
	for range 50 {
		got, err := rig.svc.GetRandom(t.Context(), &pb.GetRandomRequest{Pool: "p"})
		if err != nil {
			t.Fatalf("GetRandom during the outage = %v; the other key should serve", err)
		}
		if got.GetKeyId() == reported {
			t.Fatal("a key reported rate limited (queued) was leased again during the outage")
		}
		if got.GetKeyId() != other {
			t.Fatalf("leased %s, want %s", got.GetKeyId(), other)
		}
	}

	// Once applied, the view follows Redis again: the key is cooling down.
	rig.proxy.Restore()
	for i := 0; rig.svc.PendingReports() > 0; i++ {
		if i == 500 {
			t.Fatal("queued report never applied")
		}
		rig.svc.drainReports(t.Context())
		time.Sleep(10 * time.Millisecond)
	}
	if rig.view.Contains("p", reported) {
		t.Fatal("the reported key is back in the view after its report was applied")
	}
}

// A caller with a valid client token, during an outage, sends reports
// for key ids and pools nobody has, and repeats one report over and over:
// before, each was accepted queued: true and the buffer filled. Only
// reports about keys the broker knows are queued, once per key and kind.
func TestOutageReportsCannotFillTheBuffer(t *testing.T) {
	rig := newOutageRig(t, 200*time.Millisecond, "sk-flood-guard-0000001")
	rig.proxy.Cut()
	for _, req := range []*pb.ReportFailureRequest{
		rateLimited("0123456789abcdef"),
		{Pool: "no-such-pool", Key: &pb.ReportFailureRequest_KeyId{KeyId: rig.ids[0]}, HttpStatus: 429},
	} {
		if _, err := rig.svc.ReportFailure(t.Context(), req); status.Code(err) != codes.Unavailable {
			t.Errorf("report of an unknown key %s/%s during the outage = %v, want UNAVAILABLE", req.GetPool(), req.GetKeyId(), err)
		}
	}
	for range 20 {
		if resp, err := rig.svc.ReportFailure(t.Context(), rateLimited(rig.ids[0])); err != nil || !resp.GetQueued() {
			t.Fatalf("report of a known key = %v, %v; want queued", resp, err)
		}
	}
	if n := rig.svc.PendingReports(); n != 1 {
		t.Fatalf("%d reports pending, want 1 (unknown keys refused, repeats folded)", n)
	}
}
