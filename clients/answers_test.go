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
// (5xx, a relay's 200 with an error body) must send no report. The usage
// each answer's rate-limit headers state (successes included) must be
// reported as failure.ReadRateLimits reads it, and answers stating none
// must send no usage.
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
		now := time.Now()
		rec.serve(i, r.Header.Get("Authorization"), now)
		answers[i].Write(w, now)
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
		if served := len(rec.serves[i]); len(got) != served {
			t.Errorf("%s: %d reports, want one per time it was served: %d", a.Name, len(got), served)
			continue
		}
		for _, r := range got {
			a.Check(t, failure.Classify(a.Provider, observation(r), time.Now()))
		}
	}
	checkUsage(t, answers, rec)
}

// checkUsage checks that each answer's rate-limit headers were reported
// as failure.ReadRateLimits reads them, once, and that answers stating
// no window sent no usage.
func checkUsage(t *testing.T, answers []failuretest.Answer, rec *recorder) {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.usageErrs) > 0 {
		t.Errorf("ReportUsage: %v", rec.usageErrs)
	}
	stated := 0
	for i, a := range answers {
		if len(rec.serves[i]) == 0 {
			t.Errorf("%s: not served", a.Name)
		}
		for _, s := range rec.serves[i] {
			if checkAnswerUsage(t, a, s, rec.usages[s.lease]) {
				stated++
			}
			delete(rec.usages, s.lease)
		}
	}
	if len(rec.usages) > 0 {
		t.Errorf("usages of leases no answer was served with: %v", rec.usages)
	}
	if stated < 5 {
		t.Errorf("only %d answers served state a rate-limit window; the check needs more", stated)
	}
}

// checkAnswerUsage checks the usages reported for one serving of a, and
// reports whether its headers state a window.
func checkAnswerUsage(t *testing.T, a failuretest.Answer, s serving, got []*pb.Usage) bool {
	t.Helper()
	want := failure.ReadRateLimits(a.Header(s.at), s.at)
	if !want.Requests.Stated() && !want.Tokens.Stated() {
		if len(got) != 0 {
			t.Errorf("%s: usage reported for headers that state no window: %v", a.Name, got)
		}
		return false
	}
	if len(got) != 1 {
		t.Errorf("%s: %d usages reported, want 1: %v", a.Name, len(got), got)
		return true
	}
	// Headers that name a time are whole seconds, read by the client up
	// to most of a second later on a loaded machine (failuretest.Check).
	slack := 50 * time.Millisecond
	if len(a.RFC3339)+len(a.HTTPDate) > 0 {
		slack = 2 * time.Second
	}
	checkWindow(t, a.Name+" requests", got[0].GetRequests(), want.Requests, slack)
	checkWindow(t, a.Name+" tokens", got[0].GetTokens(), want.Tokens, slack)
	if age := got[0].GetAge(); age == nil || age.AsDuration() < 0 || age.AsDuration() > 10*time.Second {
		t.Errorf("%s: usage age %v, want between 0 and 10s", a.Name, age)
	}
	return true
}

// checkWindow fails t unless got is the reported form of want.
func checkWindow(t *testing.T, what string, got *pb.RateLimitWindow, want failure.Window, slack time.Duration) {
	t.Helper()
	if !want.Stated() {
		if got != nil {
			t.Errorf("%s: reported %v, want nothing", what, got)
		}
		return
	}
	if got == nil {
		t.Errorf("%s: not reported, want %+v", what, want)
		return
	}
	if (got.Limit != nil) != want.HasLimit || got.GetLimit() != want.Limit ||
		(got.Remaining != nil) != want.HasRemaining || got.GetRemaining() != want.Remaining {
		t.Errorf("%s: limit %v remaining %v, want %+v", what, optional(got.Limit), optional(got.Remaining), want)
	}
	if want.Reset == 0 {
		if got.GetResetAfter() != nil {
			t.Errorf("%s: reset_after %v, want none", what, got.GetResetAfter().AsDuration())
		}
		return
	}
	if d := got.GetResetAfter().AsDuration(); got.GetResetAfter() == nil || d > want.Reset+slack || d < want.Reset-slack {
		t.Errorf("%s: reset_after %v, want %v (±%v)", what, d, want.Reset, slack)
	}
}

func optional(v *int64) any {
	if v == nil {
		return "unset"
	}
	return *v
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
// time, and a report follows its answer). Each lease has its own id and
// secret, so that usages, sent later in batches, are matched with the
// answer served with the lease's secret.
type recorder struct {
	pb.UnimplementedKeyBrokerServiceServer
	mu        sync.Mutex
	served    int
	reports   map[int][]*pb.ReportFailureRequest
	leases    int
	serves    map[int][]serving // by answer
	usages    map[string][]*pb.Usage
	usageErrs []string
}

// serving is one time an answer was served: with which lease, when.
type serving struct {
	lease string
	at    time.Time
}

const tableSecret = "sk-table-0123456789abcdef-"

func (r *recorder) serve(i int, authorization string, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.served = i
	if r.serves == nil {
		r.serves = map[int][]serving{}
	}
	n, _ := strings.CutPrefix(authorization, "Bearer "+tableSecret)
	r.serves[i] = append(r.serves[i], serving{"lease-" + n, at})
}

func (r *recorder) GetRandom(context.Context, *pb.GetRandomRequest) (*pb.GetRandomResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.leases++
	n := strconv.Itoa(r.leases)
	return &pb.GetRandomResponse{Secret: tableSecret + n, KeyId: "0123456789abcdef",
		Lease: &pb.Lease{LeaseId: "lease-" + n, ExpireTime: timestamppb.New(time.Now().Add(time.Minute))}}, nil
}

func (r *recorder) ReportUsage(_ context.Context, req *pb.ReportUsageRequest) (*pb.ReportUsageResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if req.GetPool() != "table" {
		r.usageErrs = append(r.usageErrs, "pool "+req.GetPool())
	}
	if r.usages == nil {
		r.usages = map[string][]*pb.Usage{}
	}
	for _, u := range req.GetUsages() {
		r.usages[u.GetLeaseId()] = append(r.usages[u.GetLeaseId()], u)
	}
	return &pb.ReportUsageResponse{AcceptedCount: int32(len(req.GetUsages()))}, nil
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
