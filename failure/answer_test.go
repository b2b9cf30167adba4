package failure_test

import (
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/keybroker/keybroker/failure"
	"github.com/keybroker/keybroker/internal/failuretest"
)

// TestReadAnswerTable reads every answer of the shared table; the client
// and the worker read the same table through their own paths
// (client.TestTransportReadsAnswersAsTheWorkerDoes,
// worker.TestValidatorsReadAnswersAsTheClientDoes).
func TestReadAnswerTable(t *testing.T) {
	now := time.Now()
	for _, a := range failuretest.Answers(t) {
		t.Run(a.Name, func(t *testing.T) {
			obs, refused := failure.ReadAnswer(a.Status, a.Header(now), a.Payload(), now)
			if refused != a.Refusal() {
				t.Fatalf("%d %s read as a refusal: %v, want %v", a.Status, a.Payload(), refused, a.Refusal())
			}
			if !refused {
				return
			}
			a.Check(t, failure.Classify(a.Provider, obs, now))
		})
	}
}

// TestReadAnswerGeminiPerDayWithErrorInfoFirst is the answer a worker once
// read as a per-minute limit: the ErrorInfo reason comes first, the per-day
// quota id second. The quota id is the code.
func TestReadAnswerGeminiPerDayWithErrorInfoFirst(t *testing.T) {
	body := `{"error": {"code": 429, "message": "You exceeded your current quota.", "status": "RESOURCE_EXHAUSTED", "details": [
		{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "RATE_LIMIT_EXCEEDED", "domain": "googleapis.com"},
		{"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{"quotaId": "GenerateRequestsPerDayPerProjectPerModel-FreeTier"}]},
		{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "43s"}]}}`
	obs, _ := failure.ReadAnswer(429, nil, []byte(body), time.Now())
	want := failure.Observation{HTTPStatus: 429, ErrorType: "RESOURCE_EXHAUSTED", ErrorCode: "GenerateRequestsPerDayPerProjectPerModel-FreeTier",
		ErrorMessage: "You exceeded your current quota.", RetryAfter: 43 * time.Second}
	if obs != want {
		t.Fatalf("ReadAnswer =\n %+v\nwant\n %+v", obs, want)
	}
}

func TestReadAnswerShapes(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		want    failure.Observation
		refused bool
	}{
		{"relay string error", 200, `{"error": "invalid token"}`, failure.Observation{HTTPStatus: 200, ErrorMessage: "invalid token"}, true},
		{"relay odd error", 200, `{"error": 42}`, failure.Observation{HTTPStatus: 200}, true},
		{"relay numeric code", 400, `{"error":{"message":"quota exceeded","type":"new_api_error","code":4001}}`,
			failure.Observation{HTTPStatus: 400, ErrorType: "new_api_error", ErrorMessage: "quota exceeded"}, true},
		{"quota limit in ErrorInfo metadata", 429, `{"error":{"code":429,"status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"RATE_LIMIT_EXCEEDED","metadata":{"quota_limit":"Gemini25ProRequestsPerDayPerUserPerTier"}}]}}`,
			failure.Observation{HTTPStatus: 429, ErrorType: "RESOURCE_EXHAUSTED", ErrorCode: "Gemini25ProRequestsPerDayPerUserPerTier"}, true},
		{"success", 200, `{"object": "list", "data": []}`, failure.Observation{HTTPStatus: 200}, false},
		{"success with null error", 200, `{"error": null, "data": []}`, failure.Observation{HTTPStatus: 200}, false},
		{"success array", 200, `[{"candidates": []}]`, failure.Observation{HTTPStatus: 200}, false},
		{"html", 502, `<html>Bad Gateway</html>`, failure.Observation{HTTPStatus: 502}, true},
		{"empty 204", 204, ``, failure.Observation{HTTPStatus: 204}, false},
		{"truncated", 429, `{"error": {"message": "You exceeded`, failure.Observation{HTTPStatus: 429}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, refused := failure.ReadAnswer(tt.status, nil, []byte(tt.body), time.Now())
			if got != tt.want || refused != tt.refused {
				t.Fatalf("ReadAnswer = %+v, %v; want %+v, %v", got, refused, tt.want, tt.refused)
			}
		})
	}
}

func TestReadAnswerClipsToTheBrokersLimits(t *testing.T) {
	long := strings.Repeat("é", 3000) // 6000 bytes
	body := `{"error":{"type":"` + strings.Repeat("t", 300) + `","code":"` + long + `","message":"` + long + "\xff" + `"}}`
	obs, _ := failure.ReadAnswer(400, nil, []byte(body), time.Now())
	if len(obs.ErrorType) != failure.MaxFieldBytes || len(obs.ErrorCode) > failure.MaxFieldBytes || len(obs.ErrorMessage) > failure.MaxMessageBytes {
		t.Fatalf("lengths %d, %d, %d exceed the broker's limits", len(obs.ErrorType), len(obs.ErrorCode), len(obs.ErrorMessage))
	}
	if !utf8.ValidString(obs.ErrorCode) || !utf8.ValidString(obs.ErrorMessage) {
		t.Fatal("clipped fields are not valid UTF-8")
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		headers   map[string]string
		bodyDelay time.Duration
		want      time.Duration
	}{
		{"nothing", nil, 0, 0},
		{"retry-after seconds", map[string]string{"retry-after": "20"}, 0, 20 * time.Second},
		{"retry-after fractional seconds", map[string]string{"retry-after": "1.5"}, 0, 1500 * time.Millisecond},
		{"retry-after date", map[string]string{"retry-after": "Fri, 01 May 2026 12:01:30 GMT"}, 0, 90 * time.Second},
		{"retry-after date in the past", map[string]string{"retry-after": "Fri, 01 May 2026 11:00:00 GMT"}, 0, 0},
		{"retry-after-ms wins", map[string]string{"retry-after": "1", "retry-after-ms": "250"}, 0, 250 * time.Millisecond},
		{"retry-after beats body and resets", map[string]string{"retry-after": "3", "x-ratelimit-reset-requests": "6m0s"}, 5 * time.Second, 3 * time.Second},
		{"gemini RetryInfo", nil, 17 * time.Second, 17 * time.Second},
		{"openai exhausted window", map[string]string{
			"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "12ms",
			"x-ratelimit-remaining-tokens": "5000", "x-ratelimit-reset-tokens": "6m0s",
		}, 0, 12 * time.Millisecond},
		{"openai no window exhausted: the longest", map[string]string{
			"x-ratelimit-reset-requests": "1s", "x-ratelimit-reset-tokens": "6m0s",
		}, 0, 6 * time.Minute},
		{"anthropic reset", map[string]string{
			"anthropic-ratelimit-requests-remaining": "0", "anthropic-ratelimit-requests-reset": "2026-05-01T12:00:40Z",
			"anthropic-ratelimit-tokens-remaining": "100", "anthropic-ratelimit-tokens-reset": "2026-05-01T12:05:00Z",
		}, 0, 40 * time.Second},
		{"relay bare seconds", map[string]string{"x-ratelimit-reset-requests": "7"}, 0, 7 * time.Second},
		{"garbage", map[string]string{"retry-after": "soon", "x-ratelimit-reset-tokens": "later", "anthropic-ratelimit-tokens-reset": "tomorrow"}, 0, 0},
		{"negative", map[string]string{"retry-after": "-5"}, 0, 0},
		{"absurd", map[string]string{"retry-after": "99999999999999"}, 0, failure.MaxRetryAfter},
		{"infinite", map[string]string{"retry-after-ms": "Inf"}, 0, failure.MaxRetryAfter},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tt.headers {
				h.Set(k, v)
			}
			if got := failure.RetryAfter(h, tt.bodyDelay, now); got != tt.want {
				t.Errorf("RetryAfter = %v, want %v", got, tt.want)
			}
		})
	}
}
