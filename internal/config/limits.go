package config

import (
	"fmt"
	"math"
	"sort"
	"time"

	"go.yaml.in/yaml/v3"
)

// Limits are a key's provider rate limits, for budgets: GetRandom leases a
// key only while it has requests (and tokens) left in its current window,
// so that the excess is refused by the broker instead of by the provider.
// Zero means not declared: the broker then uses what it learns from the
// provider's rate-limit headers.
type Limits struct {
	// RequestsPerMinute is the key's request limit (OpenAI's RPM).
	RequestsPerMinute int64 `yaml:"requests_per_minute,omitempty"`
	// TokensPerMinute is the key's token limit (OpenAI's TPM).
	TokensPerMinute int64 `yaml:"tokens_per_minute,omitempty"`
	// Window is the length of the fixed window the budget is counted in,
	// aligned to the Unix epoch; each window holds the per-minute limits
	// scaled to its length. Between 1s and 1h; built-in default 1m.
	Window Duration `yaml:"window,omitempty"`
}

// Window bounds: a window shorter than a second is finer than the
// providers account; longer than an hour is not a rate limit any more.
const (
	minBudgetWindow = Duration(time.Second)
	maxBudgetWindow = Duration(time.Hour)
	// DefaultBudgetWindow is the built-in limits.window.
	DefaultBudgetWindow = Duration(time.Minute)
)

// WindowLength is the budget window: Window, or the built-in minute
// when no layer sets it.
func (l Limits) WindowLength() time.Duration {
	if l.Window <= 0 {
		return time.Duration(DefaultBudgetWindow)
	}
	return time.Duration(l.Window)
}

// Declared reports whether l states any limit.
func (l Limits) Declared() bool { return l.RequestsPerMinute > 0 || l.TokensPerMinute > 0 }

// PerWindow returns the limits scaled to one window of l.Window (the
// built-in minute when unset), rounded down but never below 1 for a
// declared limit.
func (l Limits) PerWindow() (requests, tokens int64) {
	w := l.WindowLength()
	scale := func(perMinute int64) int64 {
		if perMinute <= 0 {
			return 0
		}
		n := float64(perMinute) * w.Seconds() / 60
		if n >= math.MaxInt64/2 {
			return math.MaxInt64 / 2
		}
		return max(int64(n), 1)
	}
	return scale(l.RequestsPerMinute), scale(l.TokensPerMinute)
}

// mergeLimits layers over on top of under field by field.
func mergeLimits(over, under Limits) Limits {
	if over.RequestsPerMinute == 0 {
		over.RequestsPerMinute = under.RequestsPerMinute
	}
	if over.TokensPerMinute == 0 {
		over.TokensPerMinute = under.TokensPerMinute
	}
	if over.Window == 0 {
		over.Window = under.Window
	}
	return over
}

// Tier returns the limits of the named tier, and whether the pool has it.
// A tier's unset window is the pool's.
func (p Pool) Tier(name string) (Limits, bool) {
	t, ok := p.Tiers[name]
	if !ok {
		return Limits{}, false
	}
	t.Window = p.Limits.Window
	return t, true
}

// checkLimits checks one layer's limits and tiers.
func checkLimits(r *report, path string, n *yaml.Node, p Pool) {
	ln := field(n, "limits")
	checkOneLimits(r, path+".limits", firstNode(ln, n), ln, p.Limits, true)
	tn := field(n, "tiers")
	names := make([]string, 0, len(p.Tiers))
	for name := range p.Tiers {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		k, v := entry(tn, name)
		if !validTierName(name) {
			r.at(firstNode(k, tn, n), path+".tiers", "invalid tier name %q: want 1 to 64 characters of [a-z0-9_-]", name)
		}
		t := p.Tiers[name]
		checkOneLimits(r, path+".tiers."+name, firstNode(v, k, tn, n), v, t, false)
		if t.Window != 0 {
			r.at(firstNode(field(v, "window"), v, n), path+".tiers."+name+".window", "a tier takes the pool's limits.window; leave it out")
		}
		if !t.Declared() {
			r.at(firstNode(v, k, n), path+".tiers."+name, "declares no limit: set requests_per_minute or tokens_per_minute")
		}
	}
}

func checkOneLimits(r *report, path string, at, n *yaml.Node, l Limits, windowAllowed bool) {
	if l.RequestsPerMinute < 0 {
		r.at(firstNode(field(n, "requests_per_minute"), at), path+".requests_per_minute", "must not be negative, got %d", l.RequestsPerMinute)
	}
	if l.TokensPerMinute < 0 {
		r.at(firstNode(field(n, "tokens_per_minute"), at), path+".tokens_per_minute", "must not be negative, got %d", l.TokensPerMinute)
	}
	wn := field(n, "window")
	if windowAllowed && (wn != nil || l.Window != 0) && (l.Window < minBudgetWindow || l.Window > maxBudgetWindow) {
		r.at(firstNode(wn, at), path+".window", "must be between %s and %s, got %s", minBudgetWindow, maxBudgetWindow, l.Window)
	}
}

// validTierName keeps tier names short and plain: they travel in Add
// requests and Redis values.
func validTierName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

// String shows limits for logs and errors.
func (l Limits) String() string {
	return fmt.Sprintf("rpm=%d tpm=%d window=%s", l.RequestsPerMinute, l.TokensPerMinute, time.Duration(l.Window))
}
