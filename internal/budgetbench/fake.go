// Package budgetbench measures rate-limit budgets end to end: an upstream
// fake that enforces per-key request and token limits the way OpenAI
// does, brokers over a real redis-server, and callers going through the
// client's Transport. Its benchmark compares budgets with today's
// reactive selection under open-loop load; its test proves the broker
// keeps the provider's 429s away.
package budgetbench

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
)

// TokensHeader is the request header by which callers tell the fake what
// a call costs in tokens (a real provider counts the prompt and the
// completion).
const TokensHeader = "X-Bench-Tokens"

// upstream is a provider that enforces, per key, a request and a token
// limit in fixed windows aligned to the Unix epoch (shifted by phase),
// answers x-ratelimit-* headers on every answer, and refuses a call over
// either limit with 429, Retry-After and OpenAI's rate-limit error body.
type upstream struct {
	*httptest.Server
	window     time.Duration
	phase      time.Duration
	reqs, toks int64
	now        func() time.Time

	mu   sync.Mutex
	keys map[string]*fakeKey
	seen map[windowKey]int64 // arrivals per key and window, refused ones included
	ok   int64
	over int64 // 429s
}

type fakeKey struct {
	win        int64
	reqs, toks int64
}

type windowKey struct {
	key string
	win int64
}

func newUpstream(window, phase time.Duration, reqs, toks int64, now func() time.Time) *upstream {
	u := &upstream{window: window, phase: phase, reqs: reqs, toks: toks, now: now,
		keys: map[string]*fakeKey{}, seen: map[windowKey]int64{}}
	u.Server = httptest.NewServer(http.HandlerFunc(u.serve))
	return u
}

func (u *upstream) serve(w http.ResponseWriter, r *http.Request) {
	key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || key == "" {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error":{"message":"no key","type":"invalid_request_error","code":"invalid_api_key"}}`)
		return
	}
	cost, _ := strconv.ParseInt(r.Header.Get(TokensHeader), 10, 64)
	now := u.now()
	ms := now.Add(-u.phase).UnixMilli()
	win := ms / u.window.Milliseconds()
	reset := time.Duration((win+1)*u.window.Milliseconds()-ms) * time.Millisecond

	u.mu.Lock()
	k := u.keys[key]
	if k == nil {
		k = &fakeKey{}
		u.keys[key] = k
	}
	if k.win != win {
		k.win, k.reqs, k.toks = win, 0, 0
	}
	u.seen[windowKey{key, win}]++
	allowed := k.reqs < u.reqs && k.toks+cost <= u.toks
	if allowed {
		k.reqs++
		k.toks += cost
		u.ok++
	} else {
		u.over++
	}
	remR, remT := u.reqs-k.reqs, u.toks-k.toks
	u.mu.Unlock()

	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Ratelimit-Limit-Requests", strconv.FormatInt(u.reqs, 10))
	h.Set("X-Ratelimit-Remaining-Requests", strconv.FormatInt(remR, 10))
	h.Set("X-Ratelimit-Reset-Requests", reset.String())
	h.Set("X-Ratelimit-Limit-Tokens", strconv.FormatInt(u.toks, 10))
	h.Set("X-Ratelimit-Remaining-Tokens", strconv.FormatInt(remT, 10))
	h.Set("X-Ratelimit-Reset-Tokens", reset.String())
	if !allowed {
		secs := int64((reset + time.Second - 1) / time.Second)
		h.Set("Retry-After", strconv.FormatInt(secs, 10))
		h.Set("Retry-After-Ms", strconv.FormatInt(reset.Milliseconds(), 10))
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, `{"error":{"message":"Rate limit reached for requests","type":"requests","param":null,"code":"rate_limit_exceeded"}}`)
		return
	}
	fmt.Fprint(w, `{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"ok"}}]}`)
}

// overAdmitted is how many calls arrived beyond a key's request limit in
// its window, summed over keys and windows, and how many arrived in all.
func (u *upstream) overAdmitted() (over, arrived int64) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, n := range u.seen {
		arrived += n
		over += max(n-u.reqs, 0)
	}
	return over, arrived
}

// reset forgets what was counted, between runs.
func (u *upstream) resetCounts() {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.seen = map[windowKey]int64{}
	u.ok, u.over = 0, 0
}
