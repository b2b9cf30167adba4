package client

import "net/http"

// Auth says how a leased key is presented to the provider: in which header
// and after which prefix. Use the preset for the pool's provider, or
// HeaderAuth for another scheme.
type Auth struct {
	header string
	prefix string
}

// The presets, one per provider family.
var (
	// OpenAIAuth sends "Authorization: Bearer <key>", for OpenAI and
	// OpenAI-compatible relays. It is Transport's default.
	OpenAIAuth = Auth{header: "Authorization", prefix: "Bearer "}
	// AnthropicAuth sends "x-api-key: <key>".
	AnthropicAuth = Auth{header: "X-Api-Key"}
	// GeminiAuth sends "x-goog-api-key: <key>".
	GeminiAuth = Auth{header: "X-Goog-Api-Key"}
)

// HeaderAuth sends "<header>: <prefix><key>", for providers the presets do
// not cover (Azure OpenAI's "api-key", for instance).
func HeaderAuth(header, prefix string) Auth {
	return Auth{header: http.CanonicalHeaderKey(header), prefix: prefix}
}

// set puts the key into h, replacing whatever the caller had there (SDKs
// insist on some placeholder key).
func (a Auth) set(h http.Header, secret string) {
	h.Set(a.header, a.prefix+secret)
}
