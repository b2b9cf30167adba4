package failure

import (
	"net/http"
	"regexp"
	"testing"
	"time"
	"unicode/utf8"
)

var reasonRE = regexp.MustCompile(`^[a-z0-9_]{1,64}$`)

// FuzzClassify checks that Classify never panics, always decides, and only
// ever gives a reason that is safe to store and log.
func FuzzClassify(f *testing.F) {
	for _, c := range allCases() {
		o := c.o
		f.Add(string(c.p), o.HTTPStatus, o.ErrorType, o.ErrorCode, o.ErrorMessage, int64(o.RetryAfter), tableNow.Unix())
	}
	f.Add("", -1, "\xff", "*_spend_limit_exceeded", "", int64(-1), int64(-1<<62))
	f.Fuzz(func(t *testing.T, p string, status int, typ, code, msg string, retry, now int64) {
		o := Observation{HTTPStatus: status, ErrorType: typ, ErrorCode: code, ErrorMessage: msg, RetryAfter: time.Duration(retry)}
		v := Classify(Provider(p), o, time.Unix(now, 0))
		if v.Kind == Unspecified || v.Kind > Unclassified {
			t.Fatalf("Classify(%q, %+v) kind = %v", p, o, v.Kind)
		}
		if !reasonRE.MatchString(v.Reason) {
			t.Fatalf("Classify(%q, %+v) reason = %q", p, o, v.Reason)
		}
		if v.RetryAfter < 0 || v.RetryAfter != 0 && v.Kind != RateLimited {
			t.Fatalf("Classify(%q, %+v) = %v with RetryAfter %v", p, o, v.Kind, v.RetryAfter)
		}
		if !v.Until.IsZero() && v.Kind != QuotaExhausted {
			t.Fatalf("Classify(%q, %+v) = %v with Until %v", p, o, v.Kind, v.Until)
		}
	})
}

// FuzzReadAnswer checks that ReadAnswer never panics, keeps every field
// within what ReportFailure accepts, and never waits longer than
// MaxRetryAfter, whatever a provider (or something posing as one) sends.
func FuzzReadAnswer(f *testing.F) {
	f.Add(429, "1.5", "6m0s", `{"error":{"code":429,"status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"17.5s"}]}}`)
	f.Add(200, "Fri, 01 May 2026 12:01:30 GMT", "", `[{"error":"余额不足"}]`)
	f.Add(400, "", "2026-05-01T12:00:40Z", `{"type":"error","error":{"type":"invalid_request_error","message":"\xff"}}`)
	f.Fuzz(func(t *testing.T, status int, retry, reset, body string) {
		h := http.Header{"Retry-After": {retry}, "X-Ratelimit-Reset-Tokens": {reset}, "Anthropic-Ratelimit-Tokens-Reset": {reset}}
		o, refused := ReadAnswer(status, h, []byte(body), time.Unix(1777636800, 0))
		if len(o.ErrorType) > MaxFieldBytes || len(o.ErrorCode) > MaxFieldBytes || len(o.ErrorMessage) > MaxMessageBytes {
			t.Fatalf("fields too long: %d %d %d", len(o.ErrorType), len(o.ErrorCode), len(o.ErrorMessage))
		}
		if !utf8.ValidString(o.ErrorType + o.ErrorCode + o.ErrorMessage) {
			t.Fatalf("invalid UTF-8 in %+v", o)
		}
		if o.RetryAfter < 0 || o.RetryAfter > MaxRetryAfter {
			t.Fatalf("RetryAfter %v", o.RetryAfter)
		}
		if (status < 200 || status > 299) && !refused {
			t.Fatalf("status %d not a refusal", status)
		}
	})
}
