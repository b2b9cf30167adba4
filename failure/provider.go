package failure

import "fmt"

// Provider names an upstream API family. Each speaks its own error dialect,
// so classification starts from the provider of the key's pool.
type Provider string

// The providers keybroker knows. OpenAICompatible covers relays (one-api,
// new-api and the like) that mimic OpenAI's errors, sometimes loosely.
const (
	OpenAI           Provider = "openai"
	Anthropic        Provider = "anthropic"
	Gemini           Provider = "gemini"
	OpenAICompatible Provider = "openai-compatible"
)

// Providers lists every known provider, in documentation order.
func Providers() []Provider {
	return []Provider{OpenAI, Anthropic, Gemini, OpenAICompatible}
}

// ParseProvider checks that s names a known provider.
func ParseProvider(s string) (Provider, error) {
	for _, p := range Providers() {
		if string(p) == s {
			return p, nil
		}
	}
	return "", fmt.Errorf("unknown provider %q (want one of openai, anthropic, gemini, openai-compatible)", s)
}
