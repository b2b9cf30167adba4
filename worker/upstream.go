package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/keybroker/keybroker/failure"
	"github.com/keybroker/keybroker/internal/config"
)

// maxAnswer bounds how much of an answer is read: every answer a validator
// needs is small, and a misbehaving upstream must not fill memory.
const maxAnswer = 1 << 20

// errLocalLimit marks a check that could not get a slot under the pool's
// own rate limit within its time budget: nothing was asked upstream.
var errLocalLimit = errors.New("the pool's request rate limit left no room within the check's time budget")

// upstream is one pool's provider as the validators see it: its base URL,
// its error dialect, the per-request timeout and the request rate limit.
type upstream struct {
	client   *http.Client
	base     string
	provider failure.Provider
	rules    failure.Rules // the pool's classification overrides
	auth     string        // how keys are presented (config.Pool.Auth)
	limiter  *rate.Limiter
	timeout  time.Duration
	now      func() time.Time
}

// request is one call a validator makes. path is appended to the base URL
// and may carry a query; header carries the credentials.
type request struct {
	method string
	path   string
	header http.Header
	body   any // JSON-encoded when not nil
}

// answer is what the provider said.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// shape is a decoded answer that knows whether it has what the API
// promises, so that a 200 with the wrong body is seen as garbage.
type shape interface {
	complete() bool
}

// fetch makes one call and decodes a successful answer into out. When the
// call gets no answer, the provider refuses (any status outside 2xx, or a
// 2xx whose body is an error, as relays send), or the answer is not what
// out expects, it returns the Result saying so and false. Refusals are
// read by failure.ReadAnswer, as the client's Transport reads them.
func (u *upstream) fetch(ctx context.Context, secret string, r request, out shape) (Result, bool) {
	a, err := u.call(ctx, secret, r)
	if err != nil {
		return u.noAnswer(err), false
	}
	if obs, refused := failure.ReadAnswer(a.status, a.header, a.body, u.now()); refused {
		return Result{Verdict: u.classify(obs)}, false
	}
	if err := json.Unmarshal(a.body, out); err != nil {
		return malformed(fmt.Errorf("%s %s answered %d with a body that is not the expected JSON", r.method, r.pathOnly(), a.status)), false
	}
	if !out.complete() {
		return malformed(fmt.Errorf("%s %s answered %d without the expected fields", r.method, r.pathOnly(), a.status)), false
	}
	return Result{}, true
}

// noAnswer is the fault of a call that got no answer: the same reading as a
// caller's report with no HTTP status.
func (u *upstream) noAnswer(err error) Result {
	v := u.classify(failure.Observation{})
	if errors.Is(err, errLocalLimit) {
		v.Reason = "local_rate_limit"
	}
	return Result{Verdict: v, Err: err}
}

// classify reads what the provider said in the pool's dialect, with the
// table ReportFailure uses: the worker has no classification of its own.
func (u *upstream) classify(o failure.Observation) failure.Verdict {
	return u.rules.Classify(u.provider, o, u.now())
}

// call makes one request within the pool's rate limit and the request
// timeout, and reads the answer. Errors are scrubbed of the secret.
func (u *upstream) call(ctx context.Context, secret string, r request) (answer, error) {
	if err := u.limiter.Wait(ctx); err != nil {
		if ctx.Err() != nil {
			return answer{}, fmt.Errorf("wait for the pool's rate limit: %w", ctx.Err())
		}
		return answer{}, errLocalLimit
	}
	ctx, cancel := context.WithTimeout(ctx, u.timeout)
	defer cancel()
	req, err := u.newRequest(ctx, r)
	if err != nil {
		return answer{}, scrub(err, secret)
	}
	resp, err := u.client.Do(req)
	if err != nil {
		return answer{}, scrub(err, secret)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return answer{}, scrub(fmt.Errorf("%s %s: read answer: %w", r.method, r.pathOnly(), err), secret)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

func (u *upstream) newRequest(ctx context.Context, r request) (*http.Request, error) {
	var body io.Reader
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return nil, fmt.Errorf("encode %s %s: %w", r.method, r.pathOnly(), err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u.base+r.path, body)
	if err != nil {
		return nil, fmt.Errorf("build %s %s: %w", r.method, r.pathOnly(), err)
	}
	onceOnly(req)
	for k, vs := range r.header {
		req.Header[k] = vs
	}
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", "keybroker-worker")
	return req, nil
}

// pathOnly is the request path without its query, which may hold a key.
func (r request) pathOnly() string {
	p, _, _ := strings.Cut(r.path, "?")
	return p
}

// credentials presents secret the way the pool says (config.Pool.Auth):
// in a header, or as the key query parameter appended to path.
func (u *upstream) credentials(secret, path string) (http.Header, string) {
	switch u.auth {
	case config.AuthXAPIKey:
		return http.Header{"X-Api-Key": {secret}}, path
	case config.AuthXGoogAPIKey:
		return http.Header{"X-Goog-Api-Key": {secret}}, path
	case config.AuthAzureAPIKey:
		return http.Header{"Api-Key": {secret}}, path
	case config.AuthQueryKey:
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		return http.Header{}, path + sep + url.Values{"key": {secret}}.Encode()
	}
	return http.Header{"Authorization": {"Bearer " + secret}}, path
}

// authed returns r with the pool's credentials for secret.
func (u *upstream) authed(secret string, r request) request {
	h, path := u.credentials(secret, r.path)
	for k, v := range r.header {
		h[k] = v
	}
	r.header, r.path = h, path
	return r
}

// keyParam matches a key=… query parameter, however a URL ended up in a
// message, so that even a secret in an unexpected encoding is cut out.
var keyParam = regexp.MustCompile(`([?&](?:key|api_key)=)[^&\s"']*`)

// scrub returns err with the secret cut out of its message, raw or URL
// encoded, and any key=… query parameter redacted. net/http quotes the
// whole URL in its errors (url.Error), and Gemini's key travels in the URL.
func scrub(err error, secret string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if secret != "" {
		msg = strings.ReplaceAll(msg, secret, "REDACTED")
		msg = strings.ReplaceAll(msg, url.QueryEscape(secret), "REDACTED")
		msg = strings.ReplaceAll(msg, url.PathEscape(secret), "REDACTED")
	}
	msg = keyParam.ReplaceAllString(msg, "${1}REDACTED")
	return scrubbed{msg: msg, timeout: isTimeout(err)}
}

// scrubbed is an upstream error with the secret removed. It keeps only the
// message and whether it was a timeout; the original, which holds the URL,
// is dropped.
type scrubbed struct {
	msg     string
	timeout bool
}

// Error returns the message with the secret cut out.
func (e scrubbed) Error() string { return e.msg }

// Timeout reports whether the request timed out, like net.Error.
func (e scrubbed) Timeout() bool { return e.timeout }

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &t) && t.Timeout()
}

// onceOnly makes req one upstream request, whatever befalls its
// connection. net/http's Transport silently sends a request again when a
// reused connection breaks before the answer, if the request is
// idempotent (GET, or a body it can rewind): a relay that resets
// connections would get several requests per check, none of them counted
// by the pool's rate limit. A request whose body cannot be rewound (Body
// set, GetBody nil) is never replayed once written. A GET gets an empty
// such body, which the Transport reads before writing the request and
// then sends no body at all; a POST is not idempotent, so only its
// GetBody must go. Requests the Transport never wrote (a stale pooled
// connection) are not retried either: the check is a fault and is tried
// again after the retry interval, by the scheduler, within the limit.
func onceOnly(req *http.Request) {
	req.GetBody = nil
	if req.Body == nil || req.Body == http.NoBody {
		req.Body = emptyBody{}
		req.ContentLength = 0
	}
}

// emptyBody is an empty request body that cannot be rewound.
type emptyBody struct{}

func (emptyBody) Read([]byte) (int, error) { return 0, io.EOF }
func (emptyBody) Close() error             { return nil }
