package failure

import (
	"testing"
	"time"
)

func TestRulesOverrideTheTable(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	rules := Rules{
		{Status: 500, MessageContains: "QUOTA used up", Kind: QuotaExhausted, Reason: "relay_quota"},
		{Code: "Tokens_Exhausted", Kind: RateLimited},
		{Status: 400, Type: "invalid_request_error", Code: "model_not_found", Kind: Unclassified},
	}
	tests := []struct {
		name   string
		o      Observation
		kind   Kind
		reason string
	}{
		{"message and status", Observation{HTTPStatus: 500, ErrorMessage: "your quota used up, sorry"}, QuotaExhausted, "relay_quota"},
		{"status alone is not enough", Observation{HTTPStatus: 500, ErrorMessage: "boom"}, Transient, "http_500"},
		{"code in the type field, any case", Observation{HTTPStatus: 200, ErrorType: "tokens_exhausted", RetryAfter: 3 * time.Second}, RateLimited, "override_rate_limited"},
		{"all matchers must match", Observation{HTTPStatus: 400, ErrorType: "invalid_request_error", ErrorCode: "other"}, Unclassified, "http_400"},
		{"falls through to the table", Observation{HTTPStatus: 401, ErrorCode: "invalid_api_key"}, InvalidKey, "invalid_api_key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := rules.Classify(OpenAI, tt.o, now)
			if v.Kind != tt.kind || v.Reason != tt.reason {
				t.Fatalf("Classify = %v/%q, want %v/%q", v.Kind, v.Reason, tt.kind, tt.reason)
			}
			if v.Kind == RateLimited && v.RetryAfter != tt.o.RetryAfter {
				t.Fatalf("RetryAfter = %v, want %v", v.RetryAfter, tt.o.RetryAfter)
			}
		})
	}
	if got := Rules(nil).Classify(Anthropic, Observation{HTTPStatus: 529}, now); got.Kind != Transient {
		t.Fatalf("no rules: %v", got)
	}
}

func TestRuleValidate(t *testing.T) {
	for name, r := range map[string]Rule{
		"no matcher":  {Kind: RateLimited},
		"no kind":     {Status: 429},
		"bad status":  {Status: 700, Kind: RateLimited},
		"bad reason":  {Status: 429, Kind: RateLimited, Reason: "Has Spaces"},
		"kind beyond": {Status: 429, Kind: Unclassified + 1},
	} {
		if err := r.Validate(); err == nil {
			t.Errorf("%s: accepted %+v", name, r)
		}
	}
	if err := (Rule{Code: "x", Kind: Transient}).Validate(); err != nil {
		t.Errorf("valid rule refused: %v", err)
	}
}
