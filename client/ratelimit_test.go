package client

import (
	"net/http"
	"testing"
	"time"
)

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
		{"absurd", map[string]string{"retry-after": "99999999999999"}, 0, maxRetryAfter},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tt.headers {
				h.Set(k, v)
			}
			if got := retryAfter(h, tt.bodyDelay, now); got != tt.want {
				t.Errorf("retryAfter = %v, want %v", got, tt.want)
			}
		})
	}
}
