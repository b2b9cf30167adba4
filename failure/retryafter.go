package failure

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MaxRetryAfter bounds a wait read from an answer. Pools cap cooldowns by
// policy anyway; this only keeps nonsense (a date in the next century, a
// number that overflows) out of an Observation.
const MaxRetryAfter = 30 * 24 * time.Hour

// resetHeader is one rate-limit window's reset header with the header
// that says how much of the window is left.
type resetHeader struct {
	reset, remaining string
	parse            func(value string, now time.Time) (time.Duration, bool)
}

// resetHeaders are the providers' per-window reset headers: OpenAI's are
// durations ("6m0s", "12ms"), Anthropic's are RFC 3339 times.
var resetHeaders = []resetHeader{
	{"X-Ratelimit-Reset-Requests", "X-Ratelimit-Remaining-Requests", parseResetDuration},
	{"X-Ratelimit-Reset-Tokens", "X-Ratelimit-Remaining-Tokens", parseResetDuration},
	{"Anthropic-Ratelimit-Requests-Reset", "Anthropic-Ratelimit-Requests-Remaining", parseResetTime},
	{"Anthropic-Ratelimit-Tokens-Reset", "Anthropic-Ratelimit-Tokens-Remaining", parseResetTime},
	{"Anthropic-Ratelimit-Input-Tokens-Reset", "Anthropic-Ratelimit-Input-Tokens-Remaining", parseResetTime},
	{"Anthropic-Ratelimit-Output-Tokens-Reset", "Anthropic-Ratelimit-Output-Tokens-Remaining", parseResetTime},
}

// RetryAfter is how long a provider asked to wait, 0 when it did not say,
// at most MaxRetryAfter. The provider's explicit answer comes first:
// OpenAI's retry-after-ms, then Retry-After in seconds (fractions too, as
// "1.5") or as an HTTP date; then bodyDelay (Gemini's RetryInfo.retryDelay,
// from the body); then the reset of the windows that are used up
// (remaining 0), or failing that of every window named, the longest:
// x-ratelimit-reset-requests/-tokens ("6m0s", "12ms", "1s", or bare
// seconds as relays send them) and anthropic-ratelimit-*-reset (RFC 3339).
// now is when the answer arrived.
func RetryAfter(h http.Header, bodyDelay time.Duration, now time.Time) time.Duration {
	if d, ok := retryAfterHeader(h, now); ok {
		return min(d, MaxRetryAfter)
	}
	if bodyDelay > 0 {
		return min(bodyDelay, MaxRetryAfter)
	}
	return min(windowReset(h, now), MaxRetryAfter)
}

func retryAfterHeader(h http.Header, now time.Time) (time.Duration, bool) {
	if ms, err := strconv.ParseFloat(strings.TrimSpace(h.Get("Retry-After-Ms")), 64); err == nil && ms >= 0 {
		return seconds(ms / 1000), true
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil && secs >= 0 {
		return seconds(secs), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

func windowReset(h http.Header, now time.Time) time.Duration {
	var exhausted, longest time.Duration
	for _, rh := range resetHeaders {
		d, ok := rh.parse(strings.TrimSpace(h.Get(rh.reset)), now)
		if !ok {
			continue
		}
		longest = max(longest, d)
		if strings.TrimSpace(h.Get(rh.remaining)) == "0" {
			exhausted = max(exhausted, d)
		}
	}
	if exhausted > 0 {
		return exhausted
	}
	return longest
}

// parseResetDuration reads OpenAI's "6m0s", "1.5s", "12ms"; a bare number
// is seconds, as some relays send it.
func parseResetDuration(v string, _ time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		return seconds(secs), secs > 0
	}
	d, err := time.ParseDuration(v)
	return d, err == nil && d > 0
}

// parseResetTime reads Anthropic's RFC 3339 reset time.
func parseResetTime(v string, now time.Time) (time.Duration, bool) {
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return 0, false
	}
	d := t.Sub(now)
	return d, d > 0
}

// seconds converts a non-negative number of seconds to a duration, capped
// at MaxRetryAfter so that a huge value cannot overflow.
func seconds(secs float64) time.Duration {
	if secs >= MaxRetryAfter.Seconds() {
		return MaxRetryAfter
	}
	return time.Duration(secs * float64(time.Second))
}
