package config

import (
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the policy parser: it must never
// panic; a file it accepts must give every pool a complete policy; every
// error must name the file so operators know what to fix.
func FuzzParse(f *testing.F) {
	f.Add([]byte("defaults:\n  cooldown_default: 5s\npools:\n  a:\n    provider: gemini\n"))
	f.Add([]byte("pools:\n  r:\n    provider: openai-compatible\n    base_url: http://x\n"))
	f.Add([]byte("pools: {a: {lease_ttl: 0s}}"))
	f.Add([]byte("&a [*a]"))
	f.Add([]byte("pools:\n  a:\n    <<: {provider: x}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.yaml", data)
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for _, name := range append(c.PoolNames(), "undeclared") {
			p := c.Pool(name)
			if p.Provider == "" || p.CooldownDefault <= 0 || p.CooldownMax < p.CooldownDefault || p.LeaseTTL <= 0 {
				t.Fatalf("accepted file gives pool %q an incomplete policy: %+v", name, p)
			}
		}
	})
}
