package config

import (
	"strings"
	"testing"
	"time"
)

func TestLimitsPerWindowScalesTheMinute(t *testing.T) {
	for _, c := range []struct {
		l          Limits
		reqs, toks int64
	}{
		{Limits{}, 0, 0},
		{Limits{RequestsPerMinute: 600}, 600, 0},
		{Limits{RequestsPerMinute: 3000, TokensPerMinute: 60000, Window: Duration(2 * time.Second)}, 100, 2000},
		{Limits{RequestsPerMinute: 10, Window: Duration(time.Second)}, 1, 0}, // never below 1
	} {
		r, tk := c.l.PerWindow()
		if r != c.reqs || tk != c.toks {
			t.Errorf("%v.PerWindow() = %d, %d; want %d, %d", c.l, r, tk, c.reqs, c.toks)
		}
	}
}

func TestLimitsAndTiersParse(t *testing.T) {
	c := mustParse(t, `
defaults:
  limits: {requests_per_minute: 500, window: 10s}
pools:
  a:
    limits: {tokens_per_minute: 90000}
    tiers:
      tier-1: {requests_per_minute: 60}
`)
	p := c.Pool("a")
	if p.Limits != (Limits{RequestsPerMinute: 500, TokensPerMinute: 90000, Window: Duration(10 * time.Second)}) {
		t.Errorf("limits = %v", p.Limits)
	}
	tier, ok := p.Tier("tier-1")
	if !ok || tier.RequestsPerMinute != 60 || tier.TokensPerMinute != 0 || tier.Window != Duration(10*time.Second) {
		t.Errorf("Tier(tier-1) = %v, %v", tier, ok)
	}
	if _, ok := p.Tier("nope"); ok {
		t.Error("an undeclared tier was found")
	}
}

func TestBadLimitsAreErrors(t *testing.T) {
	_, err := Parse("p.yaml", []byte(`
pools:
  a:
    limits: {requests_per_minute: -1, window: 500ms}
    tiers:
      Bad: {requests_per_minute: 1}
      empty: {}
      windowed: {requests_per_minute: 1, window: 5s}
`))
	if err == nil {
		t.Fatal("bad limits accepted")
	}
	for _, want := range []string{
		"pools.a.limits.requests_per_minute", "pools.a.limits.window", `invalid tier name "Bad"`,
		"pools.a.tiers.empty: declares no limit", "pools.a.tiers.windowed.window",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
}
