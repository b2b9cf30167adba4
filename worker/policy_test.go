package worker

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/keybroker/keybroker/internal/config"
	"github.com/keybroker/keybroker/internal/store"
)

// A relay that takes keys in X-Api-Key and says "quota" with a 500: the
// pool's auth_header and classify rules make the worker speak and read
// its dialect, the same rules ReportFailure uses.
func TestPoolAuthHeaderAndClassifyRules(t *testing.T) {
	e := newEnv(t)
	const good, broke = "sk-relay-good-000000000001", "sk-relay-broke-00000000002"
	var bearerSeen atomic.Int64
	relay := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			bearerSeen.Add(1)
		}
		switch r.Header.Get("X-Api-Key") {
		case good:
			_, _ = w.Write([]byte(`{"object":"list","data":[]}`))
		case broke:
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(`{"error":{"message":"upstream says: your QUOTA is used up","type":"relay_error"}}`))
		default:
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":{"code":"invalid_api_key","message":"no key"}}`))
		}
	}))
	defer relay.Close()

	p := pool("openai-compatible", "openai", relay.URL)
	p.AuthHeader = config.AuthXAPIKey
	p.Classify = []config.ClassifyRule{{Status: 500, MessageContains: "quota", Kind: "quota_exhausted", Reason: "relay_quota"}}
	ids := e.add("relay", good, broke)
	e.sweep(e.worker(policies(map[string]config.Pool{"relay": p})))

	keys := e.keys("relay")
	if k := keys[ids[0]]; k.State != store.Active {
		t.Errorf("good key: %s (%s); the key was not sent in X-Api-Key", k.State, k.Reason)
	}
	if k := keys[ids[1]]; k.State != store.Disabled || k.Reason != "relay_quota" {
		t.Errorf("broke key: %s (%s), want disabled by the relay_quota rule (a 500 alone changes nothing)", k.State, k.Reason)
	}
	if n := bearerSeen.Load(); n != 0 {
		t.Errorf("%d requests carried an Authorization header; the pool asked for X-Api-Key", n)
	}
}
