package client

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/keybroker/keybroker/failure"
	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/failuretest"
)

// reportRecorder is a broker that leases one key and records the reports
// it is sent, so that what Transport reads can be compared with what the
// worker reads from the same answer.
type reportRecorder struct {
	fakeBroker
	mu      sync.Mutex
	reports []*pb.ReportFailureRequest
}

func (r *reportRecorder) ReportFailure(_ context.Context, req *pb.ReportFailureRequest) (*pb.ReportFailureResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reports = append(r.reports, req)
	return &pb.ReportFailureResponse{Kind: pb.FailureKind_FAILURE_KIND_UNCLASSIFIED}, nil
}

func (r *reportRecorder) take() []*pb.ReportFailureRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	got := r.reports
	r.reports = nil
	return got
}

// TestTransportReadsAnswersAsTheWorkerDoes sends every answer of the shared
// table (failuretest) through Transport and classifies the report it sends
// as the broker does: the reading must be the table's, which the worker's
// validators are held to as well. Answers Transport does not report (5xx,
// a relay's 200 with an error body, which Transport passes on unread) must
// send no report at all.
func TestTransportReadsAnswersAsTheWorkerDoes(t *testing.T) {
	rec := &reportRecorder{}
	rec.getRandom = func(context.Context, int32) (*pb.GetRandomResponse, error) {
		return &pb.GetRandomResponse{Secret: "sk-table-0123456789abcdef", KeyId: "0123456789abcdef",
			Lease: &pb.Lease{LeaseId: "lease-1", ExpireTime: timestamppb.New(time.Now().Add(time.Minute))}}, nil
	}
	kb := serveRecorder(t, rec)
	var current failuretest.Answer
	var mu sync.Mutex
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		a := current
		mu.Unlock()
		a.Write(w, time.Now())
	}))
	t.Cleanup(up.Close)
	hc := &http.Client{Transport: NewTransport(kb, "table")}
	for _, a := range failuretest.Answers(t) {
		t.Run(a.Name, func(t *testing.T) {
			mu.Lock()
			current = a
			mu.Unlock()
			resp, err := hc.Post(up.URL+"/v1/chat/completions", "application/json", strings.NewReader(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			discardBody(resp)
			reports := rec.take()
			if !reportable(a.Status) {
				if len(reports) != 0 {
					t.Fatalf("a %d was reported: %+v", a.Status, reports)
				}
				return
			}
			if len(reports) != 1 {
				t.Fatalf("%d reports, want 1", len(reports))
			}
			a.Check(t, failure.Classify(a.Provider, observation(reports[0]), time.Now()))
		})
	}
}

// serveRecorder serves rec on a loopback port and returns a Client for it.
func serveRecorder(t *testing.T, rec *reportRecorder) *Client {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	pb.RegisterKeyBrokerServiceServer(gs, rec)
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(gs.Stop)
	return newClient(t, lis.Addr().String())
}

// observation is what the broker reads from a report.
func observation(r *pb.ReportFailureRequest) failure.Observation {
	return failure.Observation{
		HTTPStatus:   int(r.GetHttpStatus()),
		ErrorType:    r.GetErrorType(),
		ErrorCode:    r.GetErrorCode(),
		ErrorMessage: r.GetErrorMessage(),
		RetryAfter:   durationOf(r.GetRetryAfter()),
	}
}

func durationOf(d *durationpb.Duration) time.Duration {
	if d == nil {
		return 0
	}
	return d.AsDuration()
}
