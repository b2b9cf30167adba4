package config

import (
	"testing"
	"time"

	"github.com/keybroker/keybroker/failure"
)

func TestPoolUntil(t *testing.T) {
	p := Pool{CooldownDefault: d("1m"), CooldownMax: d("10m")}
	now := time.Unix(1_800_000_000, 0)
	reset := now.Add(7 * time.Hour)
	tests := []struct {
		name string
		v    failure.Verdict
		want time.Time
	}{
		{"rate limit with retry", failure.Verdict{Kind: failure.RateLimited, RetryAfter: 20 * time.Second}, now.Add(20 * time.Second)},
		{"rate limit without retry", failure.Verdict{Kind: failure.RateLimited}, now.Add(time.Minute)},
		{"rate limit capped", failure.Verdict{Kind: failure.RateLimited, RetryAfter: time.Hour}, now.Add(10 * time.Minute)},
		{"quota with reset", failure.Verdict{Kind: failure.QuotaExhausted, Until: reset}, reset},
		{"quota without reset", failure.Verdict{Kind: failure.QuotaExhausted}, time.Time{}},
		{"invalid", failure.Verdict{Kind: failure.InvalidKey}, time.Time{}},
	}
	for _, tt := range tests {
		if got := p.Until(tt.v, now); !got.Equal(tt.want) {
			t.Errorf("%s: Until = %v, want %v", tt.name, got, tt.want)
		}
	}
}
