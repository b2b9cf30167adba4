package config

import (
	"strings"
	"testing"
	"time"

	"github.com/keybroker/keybroker/failure"
)

func TestClassifyRulesAndAuthHeader(t *testing.T) {
	c, err := Parse("pools.yaml", []byte(`
defaults:
  classify:
    - {status: 500, message_contains: "quota", kind: quota_exhausted, reason: relay_quota}
pools:
  relay:
    provider: openai-compatible
    base_url: https://relay.example.com
    auth_header: x-api-key
  strict:
    classify:
      - {code: weird_limit, kind: rate_limited}
  gem:
    provider: gemini
`))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	quota := failure.Observation{HTTPStatus: 500, ErrorMessage: "Quota gone"}
	if v := c.Pool("relay").Rules().Classify(failure.OpenAICompatible, quota, now); v.Kind != failure.QuotaExhausted || v.Reason != "relay_quota" {
		t.Errorf("relay inherits the defaults' rule: %v %q", v.Kind, v.Reason)
	}
	if v := c.Pool("strict").Rules().Classify(failure.OpenAI, quota, now); v.Kind != failure.Transient {
		t.Errorf("a pool's own list replaces the defaults': %v", v.Kind)
	}
	for pool, want := range map[string]string{"relay": AuthXAPIKey, "strict": AuthBearer, "gem": AuthQueryKey, "undeclared": AuthBearer} {
		if got := c.Pool(pool).Auth(); got != want {
			t.Errorf("pool %s auth = %q, want %q", pool, got, want)
		}
	}
}

func TestClassifyAndAuthHeaderErrorsNameTheirLine(t *testing.T) {
	_, err := Parse("pools.yaml", []byte(`pools:
  a:
    auth_header: cookie
    classify:
      - {status: 429, kind: rate_limited}
      - {kind: transient}
      - {status: 429, kind: sideways}
`))
	for _, want := range []string{
		`pools.yaml:3: pools.a.auth_header: "cookie": want one of`,
		"pools.yaml:6: pools.a.classify[1]: set at least one of",
		"pools.yaml:7: pools.a.classify[2]: kind:",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v\ndoes not contain %q", err, want)
		}
	}
}
