package client

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
)

// Transport is an http.RoundTripper that calls a provider with keys leased
// from a keybroker pool. Per request it leases a key (or reuses one, see
// WithLeaseReuse), puts it in the request's auth header, and sends the
// request with the wrapped RoundTripper. When the provider refuses the call
// (400, 401, 402, 403, 429) it reports the status, the provider's error
// body and its rate-limit headers to the broker, which classifies them.
//
// 5xx answers and network errors are not reported: they never change a
// key's state, and reporting them would add broker traffic exactly when a
// provider is struggling. The caller receives every response as the
// provider sent it, body included; successful responses (streams too) are
// passed through untouched.
//
// A Transport is safe for concurrent use. Its zero value is not usable;
// make one with NewTransport.
type Transport struct {
	kb      *Client
	pool    string
	base    http.RoundTripper
	auth    Auth
	retry   bool
	maxBody int64
	log     *slog.Logger
	cache   leaseCache
	usage   usageReporter
	noUsage bool
}

// TransportOption configures a Transport.
type TransportOption func(*Transport)

// DefaultMaxErrorBody is how much of a refusal's body Transport reads to
// report it. Provider error bodies are a few hundred bytes; the rest of a
// larger body is still passed to the caller.
const DefaultMaxErrorBody = 64 << 10

// NewTransport returns a Transport that leases keys from pool through kb.
// By default it wraps http.DefaultTransport, sends keys as OpenAI does
// (Authorization: Bearer), leases a key per request and never retries.
func NewTransport(kb *Client, pool string, opts ...TransportOption) *Transport {
	t := &Transport{
		kb:      kb,
		pool:    pool,
		base:    http.DefaultTransport,
		auth:    OpenAIAuth,
		maxBody: DefaultMaxErrorBody,
		log:     slog.New(slog.DiscardHandler),
		cache:   leaseCache{now: time.Now},
	}
	for _, o := range opts {
		o(t)
	}
	t.usage.kb, t.usage.pool = kb, pool
	return t
}

// WithBase sets the RoundTripper that sends the requests (default
// http.DefaultTransport).
func WithBase(rt http.RoundTripper) TransportOption {
	return func(t *Transport) { t.base = rt }
}

// WithAuth sets how the key is presented: OpenAIAuth (the default),
// AnthropicAuth, GeminiAuth or HeaderAuth.
func WithAuth(a Auth) TransportOption {
	return func(t *Transport) { t.auth = a }
}

// WithRetryOnKeyFailure lets Transport send a request once more, with
// another key, when the broker says the refusal was the key's fault
// (invalid, out of quota, rate limited, not permitted). It never retries
// 5xx or other answers that are not the key's fault, nor a request whose
// body it cannot replay (one with a body but no GetBody; http.NewRequest
// sets GetBody for in-memory bodies). When no other key can be leased, the
// caller gets the provider's refusal.
func WithRetryOnKeyFailure() TransportOption {
	return func(t *Transport) { t.retry = true }
}

// WithLeaseReuse keeps a leased key and uses it for further requests until
// its lease expires, or for at most maxUses requests when maxUses > 0, so
// that a busy service does not pay a broker round trip per request. A key
// is dropped at once when the provider refuses it. All concurrent requests
// share the one reused key; use maxUses to spread load over keys.
func WithLeaseReuse(maxUses int) TransportOption {
	return func(t *Transport) { t.cache.enabled, t.cache.maxUses = true, max(maxUses, 0) }
}

// WithLogger logs what Transport cannot do quietly (a failed report) at
// warn level, by pool and key id. Secrets are never logged.
func WithLogger(l *slog.Logger) TransportOption {
	return func(t *Transport) { t.log = l }
}

// WithMaxErrorBody sets how much of a refusal's body is read to report it
// (default DefaultMaxErrorBody).
func WithMaxErrorBody(n int64) TransportOption {
	return func(t *Transport) { t.maxBody = max(n, 0) }
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	key, err := t.lease(req.Context())
	if err != nil {
		closeBody(req)
		return nil, err
	}
	resp, err := t.send(req, req.Body, key)
	if err != nil {
		return nil, err
	}
	t.observeUsage(resp, key)
	if !t.inspect(req.Context(), resp, key) || !t.retry || !replayable(req) {
		return resp, nil
	}
	return t.retryWithAnotherKey(req, resp)
}

// lease returns the reused lease or a fresh one.
func (t *Transport) lease(ctx context.Context) (*leased, error) {
	if l := t.cache.get(); l != nil {
		return l, nil
	}
	uses := int32(1)
	fill := t.cache.startFill()
	if fill {
		defer t.cache.endFill()
		uses = t.cache.wantUses()
	}
	sent := time.Now()
	r, err := t.kb.stub.GetRandom(ctx, &pb.GetRandomRequest{Pool: t.pool, EstimatedTokens: estimatedTokens(ctx), Uses: uses})
	if err != nil {
		return nil, fmt.Errorf("keybroker: lease a key from pool %q: %w", t.pool, err)
	}
	l := newLeased(r, sent)
	if fill {
		t.cache.put(l)
	}
	return l, nil
}

// observeUsage queues what the answer's rate-limit headers say, for the
// broker's budgets.
func (t *Transport) observeUsage(resp *http.Response, key *leased) {
	if t.noUsage {
		return
	}
	now := time.Now()
	if u := usageOf(resp.Header, key, now); u != nil {
		t.usage.add(u, now)
	}
}

// send sends a copy of req with body and key's auth header; req itself
// is not modified, as the RoundTripper contract asks. Only the header is
// changed, so only the header is copied deeply (as oauth2.Transport does);
// req.Clone would copy the URL and more on the hot path for nothing.
func (t *Transport) send(req *http.Request, body io.ReadCloser, key *leased) (*http.Response, error) {
	out := new(http.Request)
	*out = *req
	out.Header = req.Header.Clone()
	if out.Header == nil {
		out.Header = http.Header{}
	}
	out.Body = body
	t.auth.set(out.Header, key.secret)
	return t.base.RoundTrip(out)
}

// retryWithAnotherKey sends req again with a new lease after first was
// refused for its key's sake. If no key or body can be had, first stands.
func (t *Transport) retryWithAnotherKey(req *http.Request, first *http.Response) (*http.Response, error) {
	key, err := t.lease(req.Context())
	if err != nil {
		return first, nil
	}
	var body io.ReadCloser = http.NoBody
	if req.GetBody != nil && req.Body != nil && req.Body != http.NoBody {
		if body, err = req.GetBody(); err != nil {
			return first, nil
		}
	}
	discard(first)
	resp, err := t.send(req, body, key)
	if err != nil {
		return nil, err
	}
	t.observeUsage(resp, key)
	t.inspect(req.Context(), resp, key)
	return resp, nil
}

// replayable reports whether req's body can be sent a second time.
func replayable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}

// discard drains a little of a response body, so the connection can be
// reused, and closes it.
func discard(resp *http.Response) {
	_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
	_ = resp.Body.Close()
}
