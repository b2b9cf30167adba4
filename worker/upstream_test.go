package worker

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keybroker/keybroker/failure"
)

func TestScrubRemovesTheSecretHoweverItIsWritten(t *testing.T) {
	secret := "AIza/Sy+B=&?secret"
	u := "https://generativelanguage.googleapis.com/v1beta/models?" + url.Values{"key": {secret}, "pageSize": {"1"}}.Encode()
	errs := []error{
		&url.Error{Op: "Get", URL: u, Err: context.DeadlineExceeded},
		errors.New("raw " + secret + " and path " + url.PathEscape(secret)),
		errors.New(`Post "https://x/v1?api_key=whatever-it-is&b=1": EOF`),
	}
	for _, err := range errs {
		got := scrub(err, secret)
		msg := got.Error()
		if strings.Contains(msg, secret) || strings.Contains(msg, url.QueryEscape(secret)) || strings.Contains(msg, "whatever-it-is") {
			t.Errorf("scrub(%q) = %q still shows the key", err, msg)
		}
		if !strings.Contains(msg, "REDACTED") {
			t.Errorf("scrub(%q) = %q: nothing marked as redacted", err, msg)
		}
		if errors.Unwrap(got) != nil {
			t.Errorf("scrub(%q) keeps the original (with its URL) reachable", err)
		}
	}
	if to := scrub(errs[0], secret); !isTimeout(to) {
		t.Error("scrub loses that the request timed out")
	}
}

func TestObserveReadsEveryDialect(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		header   http.Header
		body     string
		want     failure.Observation
		hasError bool
	}{
		{"openai", 401, nil, openAIInvalid, failure.Observation{HTTPStatus: 401, ErrorType: "invalid_request_error", ErrorCode: "invalid_api_key"}, true},
		{"openai retry header", 429, http.Header{"Retry-After": {"20"}}, openAIRate,
			failure.Observation{HTTPStatus: 429, ErrorType: "requests", ErrorCode: "rate_limit_exceeded", RetryAfter: 20 * time.Second}, true},
		{"openai retry-after-ms wins", 429, http.Header{"Retry-After": {"1"}, "Retry-After-Ms": {"1500"}}, openAIRate,
			failure.Observation{HTTPStatus: 429, ErrorType: "requests", ErrorCode: "rate_limit_exceeded", RetryAfter: 1500 * time.Millisecond}, true},
		{"gemini error info", 400, nil, geminiInvalid, failure.Observation{HTTPStatus: 400, ErrorType: "INVALID_ARGUMENT", ErrorCode: "API_KEY_INVALID"}, true},
		{"gemini quota and retry info", 429, nil, geminiDaily,
			failure.Observation{HTTPStatus: 429, ErrorType: "RESOURCE_EXHAUSTED", ErrorCode: "GenerateRequestsPerDayPerProjectPerModel-FreeTier", RetryAfter: 43 * time.Second}, true},
		{"anthropic", 529, nil, `{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}`,
			failure.Observation{HTTPStatus: 529, ErrorType: "overloaded_error"}, true},
		{"relay string error", 200, nil, `{"error": "invalid token"}`, failure.Observation{HTTPStatus: 200}, true},
		{"relay odd error", 200, nil, `{"error": 42}`, failure.Observation{HTTPStatus: 200}, true},
		{"success", 200, nil, `{"object": "list", "data": []}`, failure.Observation{HTTPStatus: 200}, false},
		{"success with null error", 200, nil, `{"error": null, "data": []}`, failure.Observation{HTTPStatus: 200}, false},
		{"html", 502, nil, `<html>Bad Gateway</html>`, failure.Observation{HTTPStatus: 502}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, hasError := observe(tt.status, tt.header, []byte(tt.body))
			got.ErrorMessage = "" // read for classification only
			if got != tt.want || hasError != tt.hasError {
				t.Fatalf("observe = %+v, %v; want %+v, %v", got, hasError, tt.want, tt.hasError)
			}
		})
	}
}

func TestSubscriptionLimitIsCappedBySystemLimit(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	tests := []struct {
		sub  subscription
		want float64
	}{
		{subscription{HardLimitUSD: f(100)}, 100},
		{subscription{HardLimitUSD: f(100), SystemHardLimitUSD: 120}, 100},
		{subscription{HardLimitUSD: f(100), SystemHardLimitUSD: 20}, 20},
		{subscription{HardLimitUSD: f(0), SystemHardLimitUSD: 20}, 0},
	}
	for _, tt := range tests {
		if got := tt.sub.limit(); got != tt.want {
			t.Errorf("limit of %+v = %v, want %v", tt.sub, got, tt.want)
		}
	}
}
