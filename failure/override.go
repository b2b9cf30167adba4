package failure

import (
	"fmt"
	"strings"
	"time"
)

// Rule overrides the classification of observations it matches, for a pool
// whose upstream speaks a dialect the built-in table reads wrongly (a relay
// that says "quota" with a 500, say). Every set matcher must match; at
// least one must be set.
type Rule struct {
	// Status matches the HTTP status; 0 matches any.
	Status int
	// Type and Code match the provider's error type or code, trimmed and
	// case-insensitively; a code may arrive in either field.
	Type, Code string
	// MessageContains matches a case-insensitive substring of the message.
	MessageContains string
	// Kind is the classification to give; never Unspecified.
	Kind Kind
	// Reason is recorded instead of the built-in one; "" gives
	// "override_<kind>".
	Reason string
}

// Validate reports what is wrong with a rule, for configuration errors.
func (r Rule) Validate() error {
	if r.Status == 0 && r.Type == "" && r.Code == "" && r.MessageContains == "" {
		return fmt.Errorf("set at least one of status, type, code, message_contains")
	}
	if r.Status < 0 || r.Status > 599 {
		return fmt.Errorf("status %d is not an HTTP status", r.Status)
	}
	if r.Kind == Unspecified || r.Kind > Unclassified {
		return fmt.Errorf("kind must be one of invalid_key, quota_exhausted, rate_limited, permission_denied, transient, unclassified")
	}
	if r.Reason != "" && !validReason(r.Reason) {
		return fmt.Errorf("reason %q: want 1 to 64 of [a-z0-9_]", r.Reason)
	}
	return nil
}

func (r Rule) matches(o Observation) bool {
	fold := func(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
	named := func(want string) bool {
		w := fold(want)
		return w == fold(o.ErrorType) || w == fold(o.ErrorCode)
	}
	switch {
	case r.Status != 0 && r.Status != o.HTTPStatus,
		r.Type != "" && !named(r.Type),
		r.Code != "" && !named(r.Code),
		r.MessageContains != "" && !strings.Contains(fold(o.ErrorMessage), fold(r.MessageContains)):
		return false
	}
	return true
}

// Rules are a pool's overrides, tried in order before the built-in table.
type Rules []Rule

// Classify applies the first matching rule, or the built-in table for p
// when none matches. Callers (ReportFailure and the worker alike) use this
// so that one pool's overrides apply wherever its failures are read.
func (rs Rules) Classify(p Provider, o Observation, now time.Time) Verdict {
	for _, r := range rs {
		if !r.matches(o) {
			continue
		}
		v := Verdict{Kind: r.Kind, Reason: r.Reason}
		if v.Reason == "" {
			v.Reason = "override_" + r.Kind.String()
		}
		if v.Kind == RateLimited {
			v.RetryAfter = max(o.RetryAfter, 0)
		}
		return v
	}
	return Classify(p, o, now)
}
