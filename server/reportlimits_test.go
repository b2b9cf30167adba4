package server

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/auth"
	"github.com/keybroker/keybroker/internal/lease"
	"github.com/keybroker/keybroker/internal/redistest"
	"github.com/keybroker/keybroker/internal/secret"
	"github.com/keybroker/keybroker/internal/store"
	"github.com/keybroker/keybroker/internal/testkit"
)

func reportService(t *testing.T, opts ...Option) (*Service, *store.Store, *redistest.Server, *testkit.Clock) {
	t.Helper()
	srv := redistest.Start(t)
	rdb := srv.Client()
	t.Cleanup(func() { rdb.Close() })
	clock := testkit.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	st := store.New(rdb, secret.NewIDs([]byte("k")), store.WithClock(clock.Now))
	svc := New(st, lease.NewSigner([]byte("l")), append([]Option{WithClock(clock.Now)}, opts...)...)
	return svc, st, srv, clock
}

func as(name string) context.Context {
	return auth.NewContext(context.Background(), auth.Principal{Name: name, Role: auth.RoleClient})
}

func transient(id string) *pb.ReportFailureRequest {
	return &pb.ReportFailureRequest{Pool: "p", Key: &pb.ReportFailureRequest_KeyId{KeyId: id}, HttpStatus: 503}
}

// A caller with a valid client token reports the same transient error
// again and again. Such reports change nothing, and now write nothing:
// before, each one left a one-hour dedup key in Redis (~140 bytes), so a
// client could fill Redis at thousands of writes a second.
func TestReportsThatChangeNothingWriteNothing(t *testing.T) {
	svc, st, srv, _ := reportService(t, WithReportRate(ReportRate{}))
	added, err := st.Add(context.Background(), "p", []string{"sk-report-flood-0000001"})
	if err != nil {
		t.Fatal(err)
	}
	rdb := srv.Client()
	defer rdb.Close()
	before := rdb.DBSize(context.Background()).Val()
	for range 200 {
		if _, err := svc.ReportFailure(as("flooder"), transient(added.KeyIDs[0])); err != nil {
			t.Fatal(err)
		}
	}
	if after := rdb.DBSize(context.Background()).Val(); after != before {
		keys := rdb.Keys(context.Background(), "*rep:*").Val()
		t.Fatalf("200 reports grew Redis from %d to %d keys (%d dedup keys)", before, after, len(keys))
	}
}

// A caller with a valid client token floods ReportFailure. Past its burst
// it is refused with RESOURCE_EXHAUSTED (REPORTS_RATE_LIMITED, RetryInfo)
// before anything touches Redis; other callers and keys are unaffected,
// and the bucket refills with time.
func TestReportFloodIsRateLimitedPerCallerAndKey(t *testing.T) {
	svc, st, _, clock := reportService(t, WithReportRate(ReportRate{PerCaller: 10, CallerBurst: 20, PerKey: 5, KeyBurst: 10, MaxTracked: 100, IdleForgetting: time.Minute}))
	added, err := st.Add(context.Background(), "p", []string{"sk-report-flood-0000001", "sk-report-flood-0000002", "sk-report-flood-0000003", "sk-report-flood-0000004"})
	if err != nil {
		t.Fatal(err)
	}
	ids := added.KeyIDs
	limited := func(err error) bool {
		st := status.Convert(err)
		for _, d := range st.Details() {
			if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetReason() == ReasonString(pb.ErrorReason_ERROR_REASON_REPORTS_RATE_LIMITED) {
				return st.Code() == codes.ResourceExhausted
			}
		}
		return false
	}
	// Per key: ten reports about one key, then refused, whoever sends them.
	for i := range 10 {
		if _, err := svc.ReportFailure(as(fmt.Sprintf("caller-%d", i)), transient(ids[0])); err != nil {
			t.Fatalf("report %d about one key: %v", i, err)
		}
	}
	if _, err := svc.ReportFailure(as("someone-else"), transient(ids[0])); !limited(err) {
		t.Fatalf("11th report about one key = %v, want REPORTS_RATE_LIMITED", err)
	}
	// Per caller: twenty reports, then refused, about any key.
	n := 0
	for ; n < 100; n++ {
		if _, err := svc.ReportFailure(as("flooder"), transient(ids[1+n%2])); err != nil {
			if !limited(err) {
				t.Fatalf("report %d: %v", n, err)
			}
			break
		}
	}
	if n != 20 {
		t.Fatalf("the flooder got %d reports through, want its burst of 20", n)
	}
	if _, err := svc.ReportFailure(as("bystander"), transient(ids[3])); err != nil {
		t.Fatalf("another caller was refused with the flooder: %v", err)
	}
	clock.Advance(time.Second)
	if _, err := svc.ReportFailure(as("flooder"), transient(ids[3])); err != nil {
		t.Fatalf("the flooder's bucket did not refill: %v", err)
	}
}

// The bucket maps stay bounded whatever names arrive: idle buckets are
// forgotten, and with none idle a new name is refused.
func TestLimiterSetIsBounded(t *testing.T) {
	l := newLimiterSet(1, 1, 3, time.Minute)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 3 {
		if !l.allow(fmt.Sprint(i), now) {
			t.Fatal("refused below the bound")
		}
	}
	if l.allow("new", now) || l.len() != 3 {
		t.Fatalf("a 4th name with none idle: allowed or grew to %d", l.len())
	}
	if !l.allow("new", now.Add(time.Minute)) || l.len() != 1 {
		t.Fatalf("idle names not forgotten: %d tracked", l.len())
	}
}

// During an outage, one caller's junk reports fill at most its share of
// the buffer, so other callers' reports are still kept.
func TestOutageBufferSharePerCaller(t *testing.T) {
	q := newReportQueue(20_000)
	junk := func(i int) queuedReport {
		return queuedReport{pool: "p", id: fmt.Sprintf("x%d", i), caller: "principal:junk"}
	}
	for i := 0; ; i++ {
		if ok, _ := q.push(junk(i)); !ok {
			if i != 2000 {
				t.Fatalf("one caller queued %d reports, want its share of 2000", i)
			}
			break
		}
	}
	if ok, _ := q.push(queuedReport{pool: "p", id: "y", caller: "principal:honest"}); !ok {
		t.Fatal("another caller's report was refused: one caller filled the buffer")
	}
	q.pop()
	if ok, _ := q.push(junk(-1)); !ok {
		t.Fatal("a caller's share did not free up as its reports were applied")
	}
}

// A caller with a valid client token puts its own text in error_code
// (here ending like a real OpenAI quota code). Before, the code itself
// became the stored reason: in the audit trail, the logs and a metrics
// label value, one new series per string. Now the reason is the rule's
// fixed text.
func TestCallerTextNeverBecomesAReason(t *testing.T) {
	svc, st, _, _ := reportService(t)
	added, err := st.Add(context.Background(), "p", []string{"sk-reason-label-0000001"})
	if err != nil {
		t.Fatal(err)
	}
	for _, code := range []string{"zqmarker_spend_limit_exceeded", "zqmarker_usage_limit_exceeded"} {
		resp, err := svc.ReportFailure(as("labeller"), &pb.ReportFailureRequest{Pool: "p",
			Key: &pb.ReportFailureRequest_KeyId{KeyId: added.KeyIDs[0]}, HttpStatus: 429, ErrorCode: code})
		if err != nil {
			t.Fatal(err)
		}
		if resp.GetReason() == "" || strings.Contains(resp.GetReason(), "zqmarker") {
			t.Fatalf("error_code %q stored as reason %q", code, resp.GetReason())
		}
	}
}
