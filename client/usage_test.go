package client

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/testkit"
)

// A broker that does not take usage reports (here: one that does not
// implement ReportUsage) leaves the caller's request untouched, and the
// Transport counts the batch as failed, not sent.
func TestUsageBatchesTheBrokerRefusesAreCountedFailed(t *testing.T) {
	f := &fakeBroker{getRandom: func(context.Context, int32) (*pb.GetRandomResponse, error) {
		return &pb.GetRandomResponse{KeyId: "0123456789abcdef", Secret: "sk-usage-failed-0001", Lease: &pb.Lease{LeaseId: "l1"}}, nil
	}}
	kb := serveFakeTCP(t, f)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("x-ratelimit-limit-requests", "100")
		w.Header().Set("x-ratelimit-remaining-requests", "99")
		w.Header().Set("x-ratelimit-reset-requests", "1s")
	}))
	t.Cleanup(up.Close)
	tr := NewTransport(kb, "p")
	resp, err := (&http.Client{Transport: tr}).Get(up.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	testkit.Eventually(t, 10*time.Second, 10*time.Millisecond, "the batch counted failed", func() bool {
		return tr.UsageStats().Failed == 1
	})
	if s := tr.UsageStats(); s.Sent != 0 || s.Dropped != 0 {
		t.Errorf("stats %+v; want only the failed observation", s)
	}
}
