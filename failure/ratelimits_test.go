package failure

import (
	"net/http"
	"testing"
	"time"
)

func TestReadRateLimits(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	h := func(kv ...string) http.Header {
		out := http.Header{}
		for i := 0; i+1 < len(kv); i += 2 {
			out.Set(kv[i], kv[i+1])
		}
		return out
	}
	for _, c := range []struct {
		name       string
		h          http.Header
		reqs, toks Window
	}{
		{"none", h(), Window{}, Window{}},
		{"openai", h("x-ratelimit-limit-requests", "500", "x-ratelimit-remaining-requests", "499", "x-ratelimit-reset-requests", "120ms",
			"x-ratelimit-limit-tokens", "30000", "x-ratelimit-remaining-tokens", "0", "x-ratelimit-reset-tokens", "6m0s"),
			Window{Limit: 500, Remaining: 499, HasLimit: true, HasRemaining: true, Reset: 120 * time.Millisecond},
			Window{Limit: 30000, Remaining: 0, HasLimit: true, HasRemaining: true, Reset: 6 * time.Minute}},
		{"anthropic", h("anthropic-ratelimit-requests-limit", "50", "anthropic-ratelimit-requests-remaining", "7",
			"anthropic-ratelimit-requests-reset", "2026-01-02T03:04:35Z"),
			Window{Limit: 50, Remaining: 7, HasLimit: true, HasRemaining: true, Reset: 30 * time.Second}, Window{}},
		{"garbage ignored", h("x-ratelimit-limit-requests", "-3", "x-ratelimit-remaining-requests", "lots", "x-ratelimit-remaining-tokens", "12"),
			Window{}, Window{Remaining: 12, HasRemaining: true}},
	} {
		got := ReadRateLimits(c.h, now)
		if got.Requests != c.reqs || got.Tokens != c.toks {
			t.Errorf("%s: ReadRateLimits = %+v, want {%+v %+v}", c.name, got, c.reqs, c.toks)
		}
	}
}
