package worker

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keybroker/keybroker/failure"
)

// How a fake provider answers for one key.
const (
	valid200     = "valid"
	invalid401   = "invalid"     // the provider's own 401 (Gemini: 400 API_KEY_INVALID)
	invalid200   = "invalid-200" // a relay's HTTP 200 with an invalid-key error body
	exhaustedQ   = "exhausted"   // billing numbers, insufficient_quota, credit balance, per-day quota
	exhausted200 = "exhausted-200"
	expiredSub   = "expired" // billing: access_until has passed
	rateLimited  = "rate-limited"
	fault500     = "500"
	fault503     = "503"
	faultTimeout = "timeout"
	faultReset   = "reset"
	faultGarbage = "malformed"
	faultErr200  = "error-200" // HTTP 200 with an error that is not about the key
)

// fake is an httptest server that answers like one provider (dialect
// billing, openai, anthropic or gemini), key by key. It counts the requests
// it answers per secret and records requests that break the provider's
// API, which fail the test.
type fake struct {
	t       testing.TB
	srv     *httptest.Server
	dialect string
	now     func() time.Time
	latency time.Duration

	mu       sync.Mutex
	modes    map[string]string // secret → how to answer; valid by default
	limits   map[string]float64
	usage    map[string]float64 // cents
	hits     map[string]int
	flap     func(secret string, hit int) bool // answer 503 instead
	problems []string
}

func newFake(t testing.TB, dialect string, now func() time.Time) *fake {
	f := &fake{t: t, dialect: dialect, now: now, modes: map[string]string{},
		limits: map[string]float64{}, usage: map[string]float64{}, hits: map[string]int{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(func() {
		f.srv.CloseClientConnections()
		f.srv.Close()
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, p := range f.problems {
			t.Errorf("%s fake: %s", dialect, p)
		}
	})
	return f
}

func (f *fake) set(secret, mode string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.modes[secret] = mode
}

// setBalance sets a billing key's hard limit (USD) and usage (cents).
func (f *fake) setBalance(secret string, limitUSD, usedCents float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.limits[secret], f.usage[secret] = limitUSD, usedCents
}

func (f *fake) hitsOf(secret string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits[secret]
}

func (f *fake) problem(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.problems = append(f.problems, fmt.Sprintf(format, args...))
}

// serve finds the key, counts the hit and answers as the key's mode says.
func (f *fake) serve(w http.ResponseWriter, r *http.Request) {
	secret := f.secretOf(r)
	f.mu.Lock()
	f.hits[secret]++
	mode, hit, flap := f.modes[secret], f.hits[secret], f.flap
	f.mu.Unlock()
	if mode == "" {
		mode = valid200
	}
	if flap != nil && flap(secret, hit) {
		mode = fault503
	}
	if f.latency > 0 {
		time.Sleep(f.latency)
	}
	f.checkRequest(r)
	switch mode {
	case faultReset:
		f.reset(w)
	case faultTimeout:
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	case fault503:
		writeRaw(w, 503, "text/html", "<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>")
	case faultGarbage:
		writeRaw(w, 200, "application/json", `{"object": "list", "data": [{"id": "gpt-4o`)
	default:
		f.answer(w, r, secret, mode)
	}
}

// reset hijacks the connection and closes it: the client sees a reset or
// an unexpected EOF, never an HTTP answer.
func (f *fake) reset(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		f.problem("hijack: %v", err)
		return
	}
	conn.Close()
}

func (f *fake) secretOf(r *http.Request) string {
	switch f.dialect {
	case "anthropic":
		return r.Header.Get("X-Api-Key")
	case "gemini":
		return r.URL.Query().Get("key")
	}
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
}

// checkRequest records what a real provider would reject.
func (f *fake) checkRequest(r *http.Request) {
	if f.secretOf(r) == "" {
		f.problem("%s %s without a key", r.Method, r.URL.Path)
	}
	if r.Method != http.MethodPost {
		return
	}
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || r.Header.Get("Content-Type") != "application/json" {
		f.problem("%s %s: body is not JSON (%v)", r.Method, r.URL.Path, err)
		return
	}
	switch f.dialect {
	case "anthropic":
		if r.Header.Get("Anthropic-Version") == "" || body["max_tokens"] != 1.0 || body["model"] == "" {
			f.problem("anthropic message without version, max_tokens 1 or model: %v %v", r.Header, body)
		}
	case "openai":
		if body["max_tokens"] != 1.0 || body["model"] == "" {
			f.problem("chat completion without max_tokens 1 or model: %v", body)
		}
	case "gemini":
		if cfg, _ := body["generationConfig"].(map[string]any); cfg["maxOutputTokens"] != 1.0 {
			f.problem("generateContent without maxOutputTokens 1: %v", body)
		}
	}
}

func writeRaw(w http.ResponseWriter, status int, contentType, body string) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	writeRaw(w, status, "application/json", body)
}

// answer writes the dialect's answer for the endpoint and mode.
func (f *fake) answer(w http.ResponseWriter, r *http.Request, secret, mode string) {
	switch f.dialect {
	case "billing":
		f.billingAnswer(w, r, secret, mode)
	case "openai":
		openAIAnswer(w, r, mode)
	case "anthropic":
		anthropicAnswer(w, mode)
	case "gemini":
		geminiAnswer(w, r, mode)
	}
}

const (
	openAIInvalid = `{"error": {"message": "Incorrect API key provided: sk-te***abcd. You can find your API key at https://platform.openai.com/account/api-keys.", "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}}`
	openAIQuota   = `{"error": {"message": "You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.", "type": "insufficient_quota", "param": null, "code": "insufficient_quota"}}`
	openAIRate    = `{"error": {"message": "Rate limit reached for gpt-4o-mini in organization org-x on requests per min (RPM): Limit 3, Used 3, Requested 1.", "type": "requests", "param": null, "code": "rate_limit_exceeded"}}`
	openAI500     = `{"error": {"message": "The server had an error while processing your request. Sorry about that!", "type": "server_error", "param": null, "code": null}}`
)

func openAIAnswer(w http.ResponseWriter, r *http.Request, mode string) {
	chat := r.URL.Path == "/v1/chat/completions"
	switch {
	case mode == invalid401:
		writeJSON(w, 401, openAIInvalid)
	case mode == exhaustedQ && chat:
		writeJSON(w, 429, openAIQuota)
	case mode == rateLimited:
		w.Header().Set("Retry-After", "20")
		writeJSON(w, 429, openAIRate)
	case mode == fault500:
		writeJSON(w, 500, openAI500)
	case mode == faultErr200:
		writeJSON(w, 200, openAI500)
	case chat:
		writeJSON(w, 200, `{"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini", "choices": [{"index": 0, "message": {"role": "assistant", "content": "P"}, "finish_reason": "length"}], "usage": {"prompt_tokens": 8, "completion_tokens": 1, "total_tokens": 9}}`)
	default:
		writeJSON(w, 200, `{"object": "list", "data": [{"id": "gpt-4o-mini", "object": "model", "created": 1686935002, "owned_by": "system"}]}`)
	}
}

func anthropicAnswer(w http.ResponseWriter, mode string) {
	switch mode {
	case invalid401:
		writeJSON(w, 401, `{"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}, "request_id": "req_011CSHoEeqs5C35K2UUqR7Fy"}`)
	case exhaustedQ:
		writeJSON(w, 400, `{"type": "error", "error": {"type": "invalid_request_error", "message": "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits."}, "request_id": "req_011"}`)
	case rateLimited:
		w.Header().Set("Retry-After", "20")
		writeJSON(w, 429, `{"type": "error", "error": {"type": "rate_limit_error", "message": "This request would exceed the rate limit for your organization of 50 requests per minute."}}`)
	case fault500:
		writeJSON(w, 500, `{"type": "error", "error": {"type": "api_error", "message": "Internal server error"}}`)
	case faultErr200:
		writeJSON(w, 200, `{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}`)
	default:
		writeJSON(w, 200, `{"id": "msg_01", "type": "message", "role": "assistant", "model": "claude-haiku-4-5", "content": [{"type": "text", "text": "P"}], "stop_reason": "max_tokens", "stop_sequence": null, "usage": {"input_tokens": 8, "output_tokens": 1}}`)
	}
}

const (
	geminiInvalid = `{"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.", "status": "INVALID_ARGUMENT", "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID", "domain": "googleapis.com", "metadata": {"service": "generativelanguage.googleapis.com"}}, {"@type": "type.googleapis.com/google.rpc.LocalizedMessage", "locale": "en-US", "message": "API key not valid. Please pass a valid API key."}]}}`
	// geminiDaily is a per-day quota refusal as Gemini sends it: an
	// ErrorInfo (RATE_LIMIT_EXCEEDED, which alone reads as per-minute)
	// before the QuotaFailure whose quota id says per day.
	geminiDaily  = `{"error": {"code": 429, "message": "You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.", "status": "RESOURCE_EXHAUSTED", "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "RATE_LIMIT_EXCEEDED", "domain": "googleapis.com", "metadata": {"service": "generativelanguage.googleapis.com", "consumer": "projects/123456789"}}, {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests", "quotaId": "GenerateRequestsPerDayPerProjectPerModel-FreeTier", "quotaDimensions": {"location": "global", "model": "gemini-2.0-flash"}, "quotaValue": "200"}]}, {"@type": "type.googleapis.com/google.rpc.Help", "links": [{"description": "Learn more about Gemini API quotas", "url": "https://ai.google.dev/gemini-api/docs/rate-limits"}]}, {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "43s"}]}}`
	geminiMinute = `{"error": {"code": 429, "message": "You exceeded your current quota.", "status": "RESOURCE_EXHAUSTED", "details": [{"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{"quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier", "quotaValue": "15"}]}, {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "20s"}]}}`
	geminiBusy   = `{"error": {"code": 503, "message": "The model is overloaded. Please try again later.", "status": "UNAVAILABLE"}}`
)

func geminiAnswer(w http.ResponseWriter, r *http.Request, mode string) {
	generate := strings.HasSuffix(r.URL.Path, ":generateContent")
	switch {
	case mode == invalid401:
		writeJSON(w, 400, geminiInvalid)
	case mode == exhaustedQ && generate:
		writeJSON(w, 429, geminiDaily)
	case mode == rateLimited && generate:
		writeJSON(w, 429, geminiMinute)
	case mode == fault500:
		writeJSON(w, 500, `{"error": {"code": 500, "message": "An internal error has occurred.", "status": "INTERNAL"}}`)
	case mode == faultErr200:
		writeJSON(w, 200, geminiBusy)
	case generate:
		writeJSON(w, 200, `{"candidates": [{"content": {"parts": [{"text": "P"}], "role": "model"}, "finishReason": "MAX_TOKENS", "index": 0}], "usageMetadata": {"promptTokenCount": 1, "candidatesTokenCount": 1, "totalTokenCount": 2}, "modelVersion": "gemini-2.0-flash"}`)
	default:
		writeJSON(w, 200, `{"models": [{"name": "models/gemini-2.0-flash", "version": "2.0", "displayName": "Gemini 2.0 Flash", "inputTokenLimit": 1048576}], "nextPageToken": "Ch5tb2RlbHMvZ2VtaW5p"}`)
	}
}

// billingAnswer answers like new-api/one-api relays do.
func (f *fake) billingAnswer(w http.ResponseWriter, r *http.Request, secret, mode string) {
	switch mode {
	case invalid401:
		writeJSON(w, 401, `{"error": {"code": "", "message": "无效的令牌 (request id: 20261126013201)", "type": "new_api_error"}}`)
		return
	case invalid200:
		writeJSON(w, 200, `{"error": {"code": "invalid_api_key", "message": "无效的令牌", "type": "new_api_error"}}`)
		return
	case exhausted200:
		writeJSON(w, 200, `{"error": {"code": "insufficient_quota", "message": "You exceeded your current quota", "type": "insufficient_quota"}}`)
		return
	case rateLimited:
		writeJSON(w, 429, `{"error": {"code": "rate_limit_exceeded", "message": "您已达到请求数限制：1分钟内最多请求60次", "type": "new_api_error"}}`)
		return
	case fault500:
		writeJSON(w, 500, `{"error": {"code": "do_request_failed", "message": "upstream error: do request failed", "type": "new_api_error"}}`)
		return
	case faultErr200:
		writeJSON(w, 200, `{"error": {"code": "get_channel_failed", "message": "当前分组 default 下对于模型 gpt-4o 无可用渠道", "type": "new_api_error"}}`)
		return
	}
	f.mu.Lock()
	limit, ok := f.limits[secret]
	used := f.usage[secret]
	f.mu.Unlock()
	if !ok {
		limit, used = 100, 1234.5
	}
	if mode == exhaustedQ {
		limit, used = 10, 1000
	}
	switch r.URL.Path {
	case "/v1/dashboard/billing/subscription":
		var until int64
		if mode == expiredSub {
			until = f.now().Add(-24 * time.Hour).Unix()
		}
		writeJSON(w, 200, fmt.Sprintf(`{"object": "billing_subscription", "has_payment_method": true, "soft_limit_usd": %v, "hard_limit_usd": %v, "system_hard_limit_usd": %v, "access_until": %d}`, limit, limit, limit, until))
	case "/v1/dashboard/billing/usage":
		q := r.URL.Query()
		start, err1 := time.Parse(time.DateOnly, q.Get("start_date"))
		end, err2 := time.Parse(time.DateOnly, q.Get("end_date"))
		if err1 != nil || err2 != nil || !end.After(start) || end.Sub(start) > 101*24*time.Hour {
			f.problem("usage window %q to %q", q.Get("start_date"), q.Get("end_date"))
		}
		writeJSON(w, 200, fmt.Sprintf(`{"object": "list", "total_usage": %v}`, used))
	default:
		writeJSON(w, 404, `{"error": {"message": "Invalid URL (GET /v1/nope)", "type": "invalid_request_error"}}`)
	}
}

func providerOf(name string) failure.Provider {
	if name == "billing" {
		return failure.OpenAICompatible
	}
	return failure.Provider(name)
}
