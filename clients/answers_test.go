package clients

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/keybroker/keybroker/failure"
	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/failuretest"
)

// TestTypeScriptClientReadsAnswersAsTheWorkerDoes and its Python twin send
// every answer of the shared table (failuretest) through the client's
// fetch / httpx transport and classify the report it sends as the broker
// does: the reading must be the table's, which the Go Transport and the
// worker's validators are held to as well. Answers that are not refusals
// (5xx, a relay's 200 with an error body) must send no report.
func TestTypeScriptClientReadsAnswersAsTheWorkerDoes(t *testing.T) {
	requireTypeScript(t)
	checkAnswers(t, func(env []string) {
		run(t, "ts", env, "node", "--test", "--test-reporter=spec", "dist/test/answers.test.js")
	})
}

func TestPythonClientReadsAnswersAsTheWorkerDoes(t *testing.T) {
	py := python(t)
	checkAnswers(t, func(env []string) {
		env = append(env, "PYTHONPATH="+pythonPath(t), "PYTHONDONTWRITEBYTECODE=1")
		run(t, filepath.Join("python"), env, py, "-m", "unittest", "-v", "tests.test_answers")
	})
}

// checkAnswers serves the table at UPSTREAM_URL/answer/{i}/..., a broker
// that records reports at KEYBROKER_ADDR, runs the client's suite with
// ANSWERS set to the table's length, and checks each report.
func checkAnswers(t *testing.T, runSuite func(env []string)) {
	answers := failuretest.Answers(t)
	rec := &recorder{served: -1}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, _ := strings.CutPrefix(r.URL.Path, "/answer/")
		i, err := strconv.Atoi(strings.SplitN(rest, "/", 2)[0])
		if err != nil || i < 0 || i >= len(answers) {
			http.NotFound(w, r)
			return
		}
		rec.serve(i)
		answers[i].Write(w, time.Now())
	}))
	t.Cleanup(up.Close)
	runSuite([]string{"KEYBROKER_ADDR=" + serveRecorder(t, rec), "UPSTREAM_URL=" + up.URL, "ANSWERS=" + strconv.Itoa(len(answers))})

	reports := rec.byAnswer()
	for i, a := range answers {
		got := reports[i]
		if !refusal(a.Status) {
			if len(got) != 0 {
				t.Errorf("%s: a %d was reported: %+v", a.Name, a.Status, got)
			}
			continue
		}
		if len(got) != 1 {
			t.Errorf("%s: %d reports, want 1", a.Name, len(got))
			continue
		}
		a.Check(t, failure.Classify(a.Provider, observation(got[0]), time.Now()))
	}
}

// refusal is a status the clients report (as the Go Transport does).
func refusal(status int) bool {
	switch status {
	case 400, 401, 402, 403, 429:
		return true
	}
	return false
}

// recorder is a broker that leases one key and records each report with
// the answer the upstream served last (the suites send one request at a
// time, and a report follows its answer).
type recorder struct {
	pb.UnimplementedKeyBrokerServiceServer
	mu      sync.Mutex
	served  int
	reports map[int][]*pb.ReportFailureRequest
}

func (r *recorder) serve(i int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.served = i
}

func (r *recorder) GetRandom(context.Context, *pb.GetRandomRequest) (*pb.GetRandomResponse, error) {
	return &pb.GetRandomResponse{Secret: "sk-table-0123456789abcdef", KeyId: "0123456789abcdef",
		Lease: &pb.Lease{LeaseId: "lease-1", ExpireTime: timestamppb.New(time.Now().Add(time.Minute))}}, nil
}

func (r *recorder) ReportFailure(_ context.Context, req *pb.ReportFailureRequest) (*pb.ReportFailureResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.reports == nil {
		r.reports = map[int][]*pb.ReportFailureRequest{}
	}
	r.reports[r.served] = append(r.reports[r.served], req)
	return &pb.ReportFailureResponse{Kind: pb.FailureKind_FAILURE_KIND_UNCLASSIFIED}, nil
}

func (r *recorder) byAnswer() map[int][]*pb.ReportFailureRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reports
}

// serveRecorder serves rec on a loopback port and returns its address.
func serveRecorder(t *testing.T, rec *recorder) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	pb.RegisterKeyBrokerServiceServer(gs, rec)
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(gs.Stop)
	return lis.Addr().String()
}

// observation is what the broker reads from a report.
func observation(r *pb.ReportFailureRequest) failure.Observation {
	o := failure.Observation{
		HTTPStatus:   int(r.GetHttpStatus()),
		ErrorType:    r.GetErrorType(),
		ErrorCode:    r.GetErrorCode(),
		ErrorMessage: r.GetErrorMessage(),
	}
	if r.GetRetryAfter() != nil {
		o.RetryAfter = r.GetRetryAfter().AsDuration()
	}
	return o
}
