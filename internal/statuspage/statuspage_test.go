package statuspage

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keybroker/keybroker/failure"
	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/auth"
	"github.com/keybroker/keybroker/internal/config"
	"github.com/keybroker/keybroker/internal/redistest"
	"github.com/keybroker/keybroker/internal/secret"
	"github.com/keybroker/keybroker/internal/store"
	"github.com/keybroker/keybroker/server"
)

const adminToken, clientToken = "admin-token-0123456789abcdef0123", "client-token-0123456789abcdef012"

type fixture struct {
	st      *store.Store
	secrets []string
	srv     *httptest.Server
	src     *countingSource
}

// countingSource records the largest page the page asked the store for.
type countingSource struct {
	*store.Store
	maxLimit int
	down     bool
}

func (c *countingSource) List(ctx context.Context, pool string, q store.Query) (store.Page, error) {
	c.maxLimit = max(c.maxLimit, q.Limit)
	return c.Store.List(ctx, pool, q)
}

func (c *countingSource) Ping(ctx context.Context) error {
	if c.down {
		return fmt.Errorf("dial tcp: connection refused")
	}
	return c.Store.Ping(ctx)
}

func newFixture(t *testing.T, n int, opts ...Option) *fixture {
	t.Helper()
	rs := redistest.Start(t)
	st := store.New(rs.Client(), secret.NewIDs([]byte("status-page-test")))
	f := &fixture{st: st, src: &countingSource{Store: st}}
	for i := range n {
		f.secrets = append(f.secrets, fmt.Sprintf("sk-status-%05d-SECRETPART-%05d", i, i*7))
	}
	if _, err := st.Add(context.Background(), "openai-main", f.secrets); err != nil {
		t.Fatal(err)
	}
	pol := &auth.Policy{}
	if err := pol.AddToken(auth.Principal{Name: "ops", Role: auth.RoleAdmin}, sha256.Sum256([]byte(adminToken))); err != nil {
		t.Fatal(err)
	}
	if err := pol.AddToken(auth.Principal{Name: "app", Role: auth.RoleClient}, sha256.Sum256([]byte(clientToken))); err != nil {
		t.Fatal(err)
	}
	status := server.StatusSource{Version: "v1.2.3", Started: time.Now(), Worker: func() *pb.WorkerStatus {
		return &pb.WorkerStatus{Name: "w1", Checked: 7}
	}}
	page := New(f.src, config.Default(), status, append([]Option{WithAuth(pol), WithPageSize(100)}, opts...)...)
	f.srv = httptest.NewServer(page.Handler())
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fixture) get(t *testing.T, path string, set func(*http.Request)) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", f.srv.URL+path, nil)
	if set != nil {
		set(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func asAdmin(r *http.Request) { r.Header.Set("Authorization", "Bearer "+adminToken) }

// noSecret fails when any part of a key's secret beyond its mask reaches
// the page.
func (f *fixture) noSecret(t *testing.T, body string) {
	t.Helper()
	for _, s := range f.secrets {
		if strings.Contains(body, s) || strings.Contains(body, "SECRETPART") {
			t.Fatalf("the page shows a secret:\n%s", body)
		}
	}
}

func TestPageShowsPoolsStatesAndTransitionsButNoSecret(t *testing.T) {
	f := newFixture(t, 3)
	id := f.st.KeyID(f.secrets[0])
	if _, err := f.st.Report(context.Background(), "openai-main", id, store.Failure{Kind: failure.RateLimited,
		Reason: "rate_limit_exceeded", Until: time.Now().Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	code, body := f.get(t, "/status", asAdmin)
	if code != 200 {
		t.Fatalf("GET /status: %d %s", code, body)
	}
	for _, want := range []string{`<a href="/status/pools/openai-main">openai-main</a>`, ">3<", "cooling_down", "rate_limit_exceeded",
		id, "v1.2.3", "w1: 7 checks", `http-equiv="refresh"`, "reachable", "random"} {
		if !strings.Contains(body, want) {
			t.Errorf("overview lacks %q", want)
		}
	}
	f.noSecret(t, body)

	code, body = f.get(t, "/status/pools/openai-main", asAdmin)
	if code != 200 {
		t.Fatalf("GET pool: %d %s", code, body)
	}
	for _, want := range []string{id, secret.Mask(f.secrets[0]), "cooling_down", "rate_limit_exceeded", "report"} {
		if !strings.Contains(body, want) {
			t.Errorf("pool page lacks %q", want)
		}
	}
	f.noSecret(t, body)
}

// TestPageNeedsAnAdminToken: an unauthenticated network peer gets a
// Basic-auth prompt, a client token is refused, and a token in the URL
// (which would leak into logs) is not accepted.
func TestPageNeedsAnAdminToken(t *testing.T) {
	f := newFixture(t, 1)
	tests := []struct {
		name string
		path string
		set  func(*http.Request)
		code int
	}{
		{"no credentials", "/status", nil, 401},
		{"token in the URL", "/status?token=" + adminToken, nil, 401},
		{"wrong token", "/status", func(r *http.Request) { r.Header.Set("Authorization", "Bearer wrong-token-0123456789abcdef") }, 401},
		{"client token", "/status", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+clientToken) }, 403},
		{"admin bearer", "/status", asAdmin, 200},
		{"admin as the basic password", "/status/pools/openai-main", func(r *http.Request) { r.SetBasicAuth("anyone", adminToken) }, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := f.get(t, tt.path, tt.set)
			if code != tt.code {
				t.Fatalf("%s: %d, want %d: %s", tt.path, code, tt.code, body)
			}
		})
	}
	req, _ := http.NewRequest("GET", f.srv.URL+"/status", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
		t.Fatalf("no Basic prompt for a browser: %q", resp.Header.Get("WWW-Authenticate"))
	}
}

// TestPagePagesThroughTheStore follows the next links through 250 keys
// and checks that no request asked the store for more than one page.
func TestPagePagesThroughTheStore(t *testing.T) {
	f := newFixture(t, 250)
	seen := map[string]bool{}
	next := regexp.MustCompile(`id="next" href="\?after=([0-9a-f]{16})"`)
	ids := regexp.MustCompile(`<tr><td><code>([0-9a-f]{16})</code></td><td><code>`)
	path := "/status/pools/openai-main"
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		code, body := f.get(t, path, asAdmin)
		if code != 200 {
			t.Fatalf("%s: %d", path, code)
		}
		for _, m := range ids.FindAllStringSubmatch(body, -1) {
			seen[m[1]] = true
		}
		m := next.FindStringSubmatch(body)
		if m == nil {
			break
		}
		path = "/status/pools/openai-main?after=" + m[1]
	}
	if len(seen) != 250 || f.src.maxLimit != 100 {
		t.Fatalf("saw %d distinct keys (want 250); largest store page %d (want 100)", len(seen), f.src.maxLimit)
	}
}

func TestPageSaysWhatIsDegraded(t *testing.T) {
	f := newFixture(t, 1, WithNotices(func(context.Context) []Notice {
		return []Notice{{Pool: "openai-main", Text: "removals held: 5 keys quarantined in 10m"}}
	}))
	f.src.down = true
	code, body := f.get(t, "/status", asAdmin)
	if code != 200 || !strings.Contains(body, "UNREACHABLE") || !strings.Contains(body, "removals held") {
		t.Fatalf("degraded page: %d\n%s", code, body)
	}
}

func TestPageRefusesBadQueries(t *testing.T) {
	f := newFixture(t, 1)
	for _, q := range []string{"?state=gone", "?after=not-a-key-id"} {
		if code, _ := f.get(t, "/status/pools/openai-main"+q, asAdmin); code != 400 {
			t.Errorf("%s: %d, want 400", q, code)
		}
	}
}
