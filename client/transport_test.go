package client

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keybroker/keybroker/failure"
	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/brokertest"
	"github.com/keybroker/keybroker/internal/config"
)

// answer is one canned upstream response.
type answer struct {
	status  int
	headers map[string]string
	body    string
}

func (a answer) write(w http.ResponseWriter) {
	for k, v := range a.headers {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.status)
	_, _ = io.WriteString(w, a.body)
}

// upstream is a fake provider that answers per key and counts hits.
type upstream struct {
	*httptest.Server
	mu     sync.Mutex
	hits   map[string]int    // by secret
	bodies map[string]string // last request body by secret
	answer func(secret string, hit int) answer
}

func newUpstream(t *testing.T, answer func(secret string, hit int) answer) *upstream {
	u := &upstream{hits: map[string]int{}, bodies: map[string]string{}, answer: answer}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sec := presentedKey(r.Header)
		body, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.hits[sec]++
		hit := u.hits[sec]
		u.bodies[sec] = string(body)
		u.mu.Unlock()
		u.answer(sec, hit).write(w)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) total() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	n := 0
	for _, h := range u.hits {
		n += h
	}
	return n
}

// presentedKey finds the key in whichever auth header carries it.
func presentedKey(h http.Header) string {
	if v, ok := strings.CutPrefix(h.Get("Authorization"), "Bearer "); ok {
		return v
	}
	if v := h.Get("X-Api-Key"); v != "" {
		return v
	}
	return h.Get("X-Goog-Api-Key")
}

const okBody = `{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}]}`

// TestTransportReportsRefusals sends one request per scenario, each
// through a pool holding two keys that the upstream answers alike in a
// provider's own words (two: reports never park a pool's last active
// key), and checks what the caller got and where the broker put the key
// the Transport leased.
func TestTransportReportsRefusals(t *testing.T) {
	scenarios := []struct {
		pool       string
		provider   failure.Provider
		auth       Auth
		answer     answer
		wantState  pb.KeyState
		wantFailed int64         // failure_count: 0 when Transport does not report
		wantUntil  time.Duration // lower bound of state_until - now, when > 0
	}{
		{"openai-ok", failure.OpenAI, OpenAIAuth, answer{200, nil, okBody}, pb.KeyState_KEY_STATE_ACTIVE, 0, 0},
		{"openai-invalid", failure.OpenAI, OpenAIAuth, answer{401, nil, openAIInvalidKey}, pb.KeyState_KEY_STATE_SUSPECT, 1, 0},
		{"openai-quota", failure.OpenAI, OpenAIAuth, answer{429, nil, openAIQuota}, pb.KeyState_KEY_STATE_DISABLED, 1, 0},
		{"openai-rate", failure.OpenAI, OpenAIAuth, answer{429, map[string]string{
			"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "6m0s",
			"x-ratelimit-remaining-tokens": "9000", "x-ratelimit-reset-tokens": "12ms",
		}, openAIRateLimit}, pb.KeyState_KEY_STATE_COOLING_DOWN, 1, 5 * time.Minute},
		{"openai-bad-request", failure.OpenAI, OpenAIAuth, answer{400, nil, openAIBadRequest}, pb.KeyState_KEY_STATE_ACTIVE, 1, 0},
		{"openai-503", failure.OpenAI, OpenAIAuth, answer{503, nil, `{"error":{"message":"The server is overloaded","type":"server_error"}}`}, pb.KeyState_KEY_STATE_ACTIVE, 0, 0},
		{"anthropic-invalid", failure.Anthropic, AnthropicAuth, answer{401, nil, anthropicInvalidKey}, pb.KeyState_KEY_STATE_SUSPECT, 1, 0},
		{"anthropic-credit", failure.Anthropic, AnthropicAuth, answer{400, nil, anthropicCredit}, pb.KeyState_KEY_STATE_DISABLED, 1, 0},
		{"anthropic-rate", failure.Anthropic, AnthropicAuth, answer{429, map[string]string{"retry-after": "40"}, anthropicRateLimit},
			pb.KeyState_KEY_STATE_COOLING_DOWN, 1, 30 * time.Second},
		{"anthropic-overloaded", failure.Anthropic, AnthropicAuth, answer{529, nil, anthropicOverloaded}, pb.KeyState_KEY_STATE_ACTIVE, 0, 0},
		{"gemini-invalid", failure.Gemini, GeminiAuth, answer{400, nil, geminiInvalidKey}, pb.KeyState_KEY_STATE_SUSPECT, 1, 0},
		{"gemini-per-day", failure.Gemini, GeminiAuth, answer{429, nil, geminiPerDay}, pb.KeyState_KEY_STATE_DISABLED, 1, time.Second},
		{"gemini-per-minute", failure.Gemini, GeminiAuth, answer{429, nil, geminiPerMinute}, pb.KeyState_KEY_STATE_COOLING_DOWN, 1, 10 * time.Second},
	}
	cfg := config.Default()
	for _, s := range scenarios {
		cfg.Pools[s.pool] = config.Pool{Provider: s.provider}
	}
	b := brokertest.Start(t, cfg)
	bySecret := map[string]answer{}
	for _, s := range scenarios {
		sec, spare := "sk-"+s.pool+"-0123456789abcdef", "sk-"+s.pool+"-spare-0123456789abcdef"
		bySecret[sec], bySecret[spare] = s.answer, s.answer
		b.Add(t, s.pool, sec, spare)
	}
	up := newUpstream(t, func(sec string, _ int) answer {
		a, ok := bySecret[sec]
		if !ok {
			return answer{500, nil, `{"error":"key not presented in the expected header"}`}
		}
		return a
	})
	kb := newClient(t, b.Addr)

	for _, s := range scenarios {
		t.Run(s.pool, func(t *testing.T) {
			hc := &http.Client{Transport: NewTransport(kb, s.pool, WithAuth(s.auth))}
			resp, err := hc.Post(up.URL+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"m"}`))
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != s.answer.status || string(got) != s.answer.body {
				t.Fatalf("caller got %d %q (%v), want the upstream's %d %q", resp.StatusCode, got, err, s.answer.status, s.answer.body)
			}
			for k, v := range s.answer.headers {
				if resp.Header.Get(k) != v {
					t.Errorf("header %s = %q, want %q", k, resp.Header.Get(k), v)
				}
			}
			key := leasedKey(t, b.Keys(t, s.pool), s.wantFailed)
			if key.GetState() != s.wantState || key.GetFailureCount() != s.wantFailed {
				t.Fatalf("key is %v (%s) with %d failures, want %v with %d", key.GetState(), key.GetReason(), key.GetFailureCount(), s.wantState, s.wantFailed)
			}
			if s.wantUntil > 0 && time.Until(key.GetStateUntil().AsTime()) < s.wantUntil {
				t.Fatalf("state_until %v is less than %v away", key.GetStateUntil().AsTime(), s.wantUntil)
			}
		})
	}
}

// leasedKey is the key of a two-key pool that a report moved (the one
// with failures), the other staying active and untouched; with no report
// expected, both must be untouched and either is returned.
func leasedKey(t *testing.T, keys map[string]*pb.Key, failures int64) *pb.Key {
	t.Helper()
	var leased, other *pb.Key
	for _, k := range keys {
		if k.GetFailureCount() > 0 && leased == nil {
			leased = k
		} else {
			other = k
		}
	}
	if leased == nil {
		leased = other
	}
	if failures > 0 && (other == nil || other.GetFailureCount() != 0 || other.GetState() != pb.KeyState_KEY_STATE_ACTIVE) {
		t.Fatalf("the key not leased is %v with %d failures, want active with 0", other.GetState(), other.GetFailureCount())
	}
	return leased
}

func newClient(t testing.TB, addr string) *Client {
	t.Helper()
	kb, err := New(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kb.Close() })
	return kb
}

// TestTransportStreamsWithoutBuffering has the upstream hold its second
// server-sent event until the caller has read the first: a Transport that
// buffered the body would never let the caller see it.
func TestTransportStreamsWithoutBuffering(t *testing.T) {
	b := brokertest.Start(t, nil)
	b.Add(t, "stream", "sk-stream-0123456789abcdef")
	firstRead := make(chan struct{}, 1) // never blocks the caller, even when the upstream gave up waiting
	released := make(chan bool, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: {\"delta\":\"Hel\"}\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-firstRead:
			released <- true
		case <-time.After(10 * time.Second):
			released <- false
		}
		_, _ = io.WriteString(w, "data: {\"delta\":\"lo\"}\n\ndata: [DONE]\n\n")
	}))
	defer srv.Close()

	for _, reuse := range []bool{false, true} {
		opts := []TransportOption{}
		if reuse {
			opts = append(opts, WithLeaseReuse(0))
		}
		hc := &http.Client{Transport: NewTransport(newClient(t, b.Addr), "stream", opts...)}
		resp, err := hc.Get(srv.URL + "/v1/chat/completions")
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, len("data: {\"delta\":\"Hel\"}\n\n"))
		if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != "data: {\"delta\":\"Hel\"}\n\n" {
			t.Fatalf("first event = %q, %v", buf, err)
		}
		firstRead <- struct{}{}
		rest, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !<-released {
			t.Fatal("the upstream was not released by the caller reading the first event")
		}
		if string(rest) != "data: {\"delta\":\"lo\"}\n\ndata: [DONE]\n\n" {
			t.Fatalf("rest of the stream = %q", rest)
		}
	}
}

// refuseFirstKey answers with refusal the first key it sees, on every hit,
// and 200 to any other key, so retry tests do not depend on which key the
// broker leases first.
func refuseFirstKey(refusal answer) func(string, int) answer {
	var mu sync.Mutex
	first := ""
	return func(sec string, _ int) answer {
		mu.Lock()
		defer mu.Unlock()
		if first == "" {
			first = sec
		}
		if sec == first {
			return refusal
		}
		return answer{200, nil, okBody}
	}
}

func TestTransportRetriesOnlyWhenAllowed(t *testing.T) {
	invalid := answer{401, nil, openAIInvalidKey}
	tests := []struct {
		name       string
		retry      bool
		refusal    answer
		replayable bool
		wantStatus int
		wantHits   int
	}{
		{"key at fault: retried with another key", true, invalid, true, 200, 2},
		{"rate limited: retried", true, answer{429, map[string]string{"retry-after": "30"}, openAIRateLimit}, true, 200, 2},
		{"retry not enabled", false, invalid, true, 401, 1},
		{"body cannot be replayed", true, invalid, false, 401, 1},
		{"5xx: never retried", true, answer{502, nil, `bad gateway`}, true, 502, 1},
		{"bad request: not the key's fault", true, answer{400, nil, openAIBadRequest}, true, 400, 1},
	}
	b := brokertest.Start(t, nil)
	kb := newClient(t, b.Addr)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pool := "retry-" + string(rune('a'+i))
			b.Add(t, pool, "sk-"+pool+"-first-0123456789", "sk-"+pool+"-second-0123456789")
			up := newUpstream(t, refuseFirstKey(tt.refusal))
			var opts []TransportOption
			if tt.retry {
				opts = append(opts, WithRetryOnKeyFailure())
			}
			hc := &http.Client{Transport: NewTransport(kb, pool, opts...)}
			const payload = `{"model":"m","messages":[{"role":"user","content":"hi"}]}`
			var body io.Reader = strings.NewReader(payload) // http.NewRequest sets GetBody
			if !tt.replayable {
				body = io.NopCloser(strings.NewReader(payload)) // not a type NewRequest can rewind
			}
			req, _ := http.NewRequest(http.MethodPost, up.URL+"/v1/chat/completions", body)
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus || up.total() != tt.wantHits {
				t.Fatalf("status %d after %d upstream hits, want %d after %d (%s)", resp.StatusCode, up.total(), tt.wantStatus, tt.wantHits, got)
			}
			up.mu.Lock()
			defer up.mu.Unlock()
			for sec, sent := range up.bodies {
				if sent != payload {
					t.Errorf("upstream got body %q with key %.12s…, want the request's", sent, sec)
				}
			}
		})
	}
}

func TestTransportReusesLeases(t *testing.T) {
	b := brokertest.Start(t, nil)
	kb := newClient(t, b.Addr)
	leases := func(pool string) (n int64) {
		for _, k := range b.Keys(t, pool) {
			n += k.GetLeaseCount()
		}
		return n
	}
	get := func(hc *http.Client, url string) int {
		resp, err := hc.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		discardBody(resp)
		return resp.StatusCode
	}
	up := newUpstream(t, func(string, int) answer { return answer{200, nil, okBody} })

	for _, tt := range []struct {
		pool       string
		maxUses    int
		wantLeases int64
	}{{"reuse-unbounded", 0, 1}, {"reuse-5", 5, 4}, {"reuse-1", 1, 20}} {
		b.Add(t, tt.pool, "sk-"+tt.pool+"-a-0123456789", "sk-"+tt.pool+"-b-0123456789")
		hc := &http.Client{Transport: NewTransport(kb, tt.pool, WithLeaseReuse(tt.maxUses))}
		for range 20 {
			get(hc, up.URL)
		}
		if got := leases(tt.pool); got != tt.wantLeases {
			t.Errorf("%s: 20 requests took %d leases, want %d", tt.pool, got, tt.wantLeases)
		}
	}

	// A refused key is dropped at once: the next request leases the other.
	b.Add(t, "reuse-drop", "sk-reuse-drop-a-0123456789", "sk-reuse-drop-b-0123456789")
	drop := newUpstream(t, refuseFirstKey(answer{429, map[string]string{"retry-after": "60"}, openAIRateLimit}))
	hc := &http.Client{Transport: NewTransport(kb, "reuse-drop", WithLeaseReuse(0))}
	codes := []int{get(hc, drop.URL), get(hc, drop.URL), get(hc, drop.URL)}
	if codes[0] != 429 || codes[1] != 200 || codes[2] != 200 || leases("reuse-drop") != 2 {
		t.Fatalf("statuses %v with %d leases; want [429 200 200] with 2", codes, leases("reuse-drop"))
	}
}

func TestTransportReusesLeaseUntilItExpires(t *testing.T) {
	b := brokertest.Start(t, nil)
	b.Add(t, "expiry", "sk-expiry-0123456789abcdef")
	up := newUpstream(t, func(string, int) answer { return answer{200, nil, okBody} })
	tr := NewTransport(newClient(t, b.Addr), "expiry", WithLeaseReuse(0))
	now := time.Now()
	tr.cache.now = func() time.Time { return now }
	hc := &http.Client{Transport: tr}
	for range 3 {
		resp, err := hc.Get(up.URL)
		if err != nil {
			t.Fatal(err)
		}
		discardBody(resp)
		now = now.Add(3 * time.Minute) // the lease lasts the default 5m
	}
	if n := b.Keys(t, "expiry")[tr.cache.cur.keyID].GetLeaseCount(); n != 2 {
		t.Fatalf("3 requests 3 minutes apart took %d leases, want 2", n)
	}
}

func TestTransportRestoresLongErrorBodies(t *testing.T) {
	b := brokertest.Start(t, nil)
	b.Add(t, "long", "sk-long-0123456789abcdef")
	long := `{"error":{"type":"insufficient_quota","code":"insufficient_quota","message":"` + strings.Repeat("x", 100_000) + `"}}`
	up := newUpstream(t, func(string, int) answer { return answer{429, nil, long} })
	hc := &http.Client{Transport: NewTransport(newClient(t, b.Addr), "long", WithMaxErrorBody(1024))}
	resp, err := hc.Get(up.URL)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(got) != long {
		t.Fatalf("caller got %d bytes of the %d-byte body", len(got), len(long))
	}
	if k := b.Keys(t, "long"); len(k) != 1 || firstKey(k).GetFailureCount() != 1 {
		t.Fatalf("the truncated body was not reported: %v", k)
	}
}

func TestTransportLeaseErrors(t *testing.T) {
	b := brokertest.Start(t, nil)
	up := newUpstream(t, func(string, int) answer { return answer{200, nil, okBody} })
	hc := &http.Client{Transport: NewTransport(newClient(t, b.Addr), "nothing-here")}
	body := &closeRecorder{Reader: strings.NewReader("{}")}
	req, _ := http.NewRequest(http.MethodPost, up.URL, body)
	_, err := hc.Do(req)
	if Reason(err) != pb.ErrorReason_ERROR_REASON_POOL_EMPTY || !strings.Contains(err.Error(), `pool "nothing-here"`) {
		t.Fatalf("error = %v (reason %v), want POOL_EMPTY naming the pool", err, Reason(err))
	}
	if !body.closed || up.total() != 0 {
		t.Fatalf("request body closed: %v, upstream hits: %d", body.closed, up.total())
	}
}

// TestTransportNeverLogsSecrets makes a report fail (the key is removed
// while the request is in flight) and checks the log names the key by id.
func TestTransportNeverLogsSecrets(t *testing.T) {
	b := brokertest.Start(t, nil)
	const sec = "sk-log-secret-0123456789abcdef"
	id := b.Add(t, "log", sec)[0]
	up := newUpstream(t, func(string, int) answer {
		if _, err := b.Client.Remove(context.Background(), &pb.RemoveRequest{Pool: "log", KeyIds: []string{id}}); err != nil {
			t.Error(err)
		}
		return answer{401, nil, openAIInvalidKey}
	})
	var logs bytes.Buffer // RoundTrip logs on the caller's goroutine, before Get returns
	hc := &http.Client{Transport: NewTransport(newClient(t, b.Addr), "log", WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))}
	resp, err := hc.Get(up.URL)
	if err != nil {
		t.Fatal(err)
	}
	discardBody(resp)
	if !strings.Contains(logs.String(), id) || !strings.Contains(logs.String(), "KEY_UNKNOWN") && !strings.Contains(logs.String(), "not in pool") {
		t.Fatalf("failed report not logged by key id:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), sec) {
		t.Fatalf("log holds the secret:\n%s", logs.String())
	}
}

func discardBody(resp *http.Response) {
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
}

func firstKey(m map[string]*pb.Key) *pb.Key {
	for _, k := range m {
		return k
	}
	return nil
}

type closeRecorder struct {
	io.Reader
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }
