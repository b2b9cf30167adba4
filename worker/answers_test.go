package worker

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/keybroker/keybroker/failure"
	"github.com/keybroker/keybroker/internal/failuretest"
)

// TestValidatorsReadAnswersAsTheClientDoes has an upstream give every
// answer of the shared table (failuretest) to the request path all
// validators share, and checks the verdict against the table, which the
// client's Transport is held to as well: a refusal means the same to the
// worker as to a caller's report.
func TestValidatorsReadAnswersAsTheClientDoes(t *testing.T) {
	var mu sync.Mutex
	var current failuretest.Answer
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		a := current
		mu.Unlock()
		a.Write(w, time.Now())
	}))
	t.Cleanup(srv.Close)
	for _, a := range failuretest.Answers(t) {
		t.Run(a.Name, func(t *testing.T) {
			mu.Lock()
			current = a
			mu.Unlock()
			up := &upstream{client: srv.Client(), base: srv.URL, provider: a.Provider,
				limiter: rate.NewLimiter(rate.Inf, 1), timeout: 5 * time.Second, now: time.Now}
			if !a.Refusal() {
				// A success is decoded into the validator's shape; any
				// object will do here, what matters is that it is no
				// refusal.
				var body anyObject
				res, ok := up.fetch(context.Background(), "sk-table", request{method: http.MethodGet, path: "/v1/models"}, &body)
				if !ok || res.Verdict.Kind != failure.Unspecified {
					t.Fatalf("%d %s was not taken for a success: %+v", a.Status, a.Payload(), res.Verdict)
				}
				return
			}
			var list models
			res, ok := up.fetch(context.Background(), "sk-table", request{method: http.MethodGet, path: "/v1/models"}, &list)
			if ok || res.Valid {
				t.Fatalf("%d %s was taken for a success", a.Status, a.Payload())
			}
			a.Check(t, res.Verdict)
		})
	}
}

// anyObject is a shape every JSON object fills.
type anyObject struct{}

func (anyObject) complete() bool { return true }
