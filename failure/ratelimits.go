package failure

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Window is one provider rate-limit window as an answer's headers state
// it. A field the provider did not send is left unset (Has* false, Reset
// 0).
type Window struct {
	Limit, Remaining       int64
	HasLimit, HasRemaining bool
	// Reset is how long until the window is whole again, at most
	// MaxRetryAfter.
	Reset time.Duration
}

// Stated reports whether the headers said anything about the window.
func (w Window) Stated() bool { return w.HasLimit || w.HasRemaining }

// RateLimits are an answer's request and token windows. Every answer
// carries them, successes included, which is what lets a broker budget
// keys before the provider refuses them.
type RateLimits struct {
	Requests, Tokens Window
}

// windowHeaders names one provider window's limit, remaining and reset
// headers, with how its reset is written.
type windowHeaders struct {
	limit, remaining, reset string
	parse                   func(value string, now time.Time) (time.Duration, bool)
}

// The providers' request and token windows, by the same names as
// resetHeaders: OpenAI's x-ratelimit-*-requests/-tokens (resets as
// durations) and Anthropic's anthropic-ratelimit-requests-*/-tokens-*
// (resets as RFC 3339 times).
var (
	requestWindows = []windowHeaders{
		{"X-Ratelimit-Limit-Requests", "X-Ratelimit-Remaining-Requests", "X-Ratelimit-Reset-Requests", parseResetDuration},
		{"Anthropic-Ratelimit-Requests-Limit", "Anthropic-Ratelimit-Requests-Remaining", "Anthropic-Ratelimit-Requests-Reset", parseResetTime},
	}
	tokenWindows = []windowHeaders{
		{"X-Ratelimit-Limit-Tokens", "X-Ratelimit-Remaining-Tokens", "X-Ratelimit-Reset-Tokens", parseResetDuration},
		{"Anthropic-Ratelimit-Tokens-Limit", "Anthropic-Ratelimit-Tokens-Remaining", "Anthropic-Ratelimit-Tokens-Reset", parseResetTime},
	}
)

// ReadRateLimits reads the request and token windows an answer's headers
// state: for each, the first provider's headers present. Values that are
// not non-negative integers are ignored. now is when the answer arrived.
func ReadRateLimits(h http.Header, now time.Time) RateLimits {
	return RateLimits{Requests: readWindow(h, requestWindows, now), Tokens: readWindow(h, tokenWindows, now)}
}

func readWindow(h http.Header, windows []windowHeaders, now time.Time) Window {
	for _, wh := range windows {
		var w Window
		w.Limit, w.HasLimit = headerCount(h, wh.limit)
		w.Remaining, w.HasRemaining = headerCount(h, wh.remaining)
		if !w.Stated() {
			continue
		}
		if d, ok := wh.parse(strings.TrimSpace(h.Get(wh.reset)), now); ok {
			w.Reset = min(d, MaxRetryAfter)
		}
		return w
	}
	return Window{}
}

func headerCount(h http.Header, name string) (int64, bool) {
	v := strings.TrimSpace(h.Get(name))
	if v == "" {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}
