package config

import (
	"fmt"
	"slices"

	"github.com/keybroker/keybroker/failure"
)

// ClassifyRule is one classification override of a pool, as written in
// the policy file; see failure.Rule for how it matches.
type ClassifyRule struct {
	Status          int    `yaml:"status,omitempty"`
	Type            string `yaml:"type,omitempty"`
	Code            string `yaml:"code,omitempty"`
	MessageContains string `yaml:"message_contains,omitempty"`
	Kind            string `yaml:"kind"`
	Reason          string `yaml:"reason,omitempty"`
}

// rule converts a written rule, reporting what is wrong with it.
func (c ClassifyRule) rule() (failure.Rule, error) {
	kind, err := failure.ParseKind(c.Kind)
	if err != nil {
		return failure.Rule{}, fmt.Errorf("kind: %w", err)
	}
	r := failure.Rule{Status: c.Status, Type: c.Type, Code: c.Code, MessageContains: c.MessageContains, Kind: kind, Reason: c.Reason}
	return r, r.Validate()
}

// Rules returns the pool's override rules, for failure.Rules.Classify.
// Rules that fail validation never load, so none is dropped here.
func (p Pool) Rules() failure.Rules {
	out := make(failure.Rules, 0, len(p.Classify))
	for _, c := range p.Classify {
		if r, err := c.rule(); err == nil {
			out = append(out, r)
		}
	}
	return out
}

// The ways a key can be presented upstream (Pool.AuthHeader).
const (
	AuthBearer      = "authorization"
	AuthXAPIKey     = "x-api-key"
	AuthXGoogAPIKey = "x-goog-api-key"
	AuthAzureAPIKey = "api-key"
	AuthQueryKey    = "query"
)

func authHeaders() []string {
	return []string{AuthBearer, AuthXAPIKey, AuthXGoogAPIKey, AuthAzureAPIKey, AuthQueryKey}
}

func validAuthHeader(s string) bool { return slices.Contains(authHeaders(), s) }

// Auth is how the pool's keys are presented upstream: AuthHeader, or the
// provider's own way when no layer sets it.
func (p Pool) Auth() string {
	if p.AuthHeader != "" {
		return p.AuthHeader
	}
	return defaultAuthHeader(p.Provider)
}

// defaultAuthHeader is how each provider's own API takes a key.
func defaultAuthHeader(p failure.Provider) string {
	switch p {
	case failure.Anthropic:
		return AuthXAPIKey
	case failure.Gemini:
		return AuthQueryKey
	}
	return AuthBearer
}
