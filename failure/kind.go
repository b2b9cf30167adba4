// Package failure reads and classifies what a provider said when it refused
// a call made with a key. ReadAnswer turns an HTTP answer (status, headers,
// error body of OpenAI, Anthropic, Gemini or a relay) into an Observation;
// Classify turns an Observation into a Verdict. The client's Transport, the
// broker's ReportFailure and the validation worker all go through them, so
// that every provider error is read the same way, from one table.
package failure

import "fmt"

// Kind is the broker's reading of a provider's refusal. It decides what
// happens to the key: see the lifecycle in docs/design.md.
type Kind uint8

// The kinds of failure, from most to least damning for the key.
const (
	// Unspecified means "classify it for me" when it comes from a caller.
	Unspecified Kind = iota
	// InvalidKey: the provider does not accept the key at all.
	InvalidKey
	// QuotaExhausted: out of credit, quota or spend limit.
	QuotaExhausted
	// RateLimited: too many requests for now; the key cools down.
	RateLimited
	// PermissionDenied: the key may not do this from here (403); parked.
	PermissionDenied
	// Transient: the provider failed; the key is not at fault.
	Transient
	// Unclassified: nothing says the key is at fault; counted only.
	Unclassified
)

var kindNames = [...]string{
	Unspecified:      "unspecified",
	InvalidKey:       "invalid_key",
	QuotaExhausted:   "quota_exhausted",
	RateLimited:      "rate_limited",
	PermissionDenied: "permission_denied",
	Transient:        "transient",
	Unclassified:     "unclassified",
}

// String returns the kind's snake_case name, as used in config and logs.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// ParseKind reads a kind from its String form.
func ParseKind(s string) (Kind, error) {
	for k, name := range kindNames {
		if name == s {
			return Kind(k), nil
		}
	}
	return Unspecified, fmt.Errorf("unknown failure kind %q", s)
}
