package config

import (
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/keybroker/keybroker/failure"
)

// Validator is a pool's settings for the validation worker: how its keys
// are checked, how often, and how hard the worker may lean on the
// provider. Like Pool, a zero field means "not set here" and is filled
// from the layer below, so a written zero is an error, not "off".
type Validator struct {
	// Kind selects how the worker checks this pool's keys: "none" (no
	// checks), "billing" (an OpenAI-compatible relay's billing endpoints),
	// "openai" (GET /v1/models, and a one-token chat completion when Model
	// is set), "anthropic" (a max_tokens 1 message) or "gemini" (models
	// list, and a tiny generateContent when Model is set). "" inherits;
	// when nothing sets it, the pool is not checked.
	Kind string `yaml:"kind,omitempty"`

	// Interval is how long after a check an active key is checked again.
	// Built-in default 1m.
	Interval Duration `yaml:"interval,omitempty"`

	// DisabledInterval is how long after a check a disabled key (out of
	// quota, not permitted) is checked again to see whether it recovered.
	// Built-in default 15m.
	DisabledInterval Duration `yaml:"disabled_interval,omitempty"`

	// RetryInterval is how long after a fault (timeout, refused
	// connection, 5xx, garbage) or a rate limit a key is tried again; its
	// state is left as it was. Built-in default 30s.
	RetryInterval Duration `yaml:"retry_interval,omitempty"`

	// Timeout bounds each upstream request. Built-in default 10s.
	Timeout Duration `yaml:"timeout,omitempty"`

	// Jitter spreads checks out: each next check is put off by a random
	// extra of up to this fraction of its interval, so keys added together
	// are not checked together forever. (0, 1]; built-in default 0.1.
	Jitter float64 `yaml:"jitter,omitempty"`

	// Concurrency is how many of this pool's checks one worker runs at
	// once. Built-in default 4.
	Concurrency int `yaml:"concurrency,omitempty"`

	// RateLimit caps upstream requests per second for this pool, per worker
	// (probes cost money, and a provider rate limits the caller's address).
	// Built-in default 5.
	RateLimit float64 `yaml:"rate_limit,omitempty"`

	// OnExhausted is what happens to a key out of credit: "disable" parks
	// it and re-checks it every DisabledInterval (built-in default);
	// "remove" quarantines it (kept, re-checked every DisabledInterval,
	// purged after QuarantineRetention), counted by the removal brake.
	OnExhausted string `yaml:"on_exhausted,omitempty"`

	// Model is the model a probe uses: for openai, setting it adds a
	// one-token chat completion (which also catches exhausted quota); for
	// anthropic, the model of the message (built-in default
	// claude-haiku-4-5); for gemini, setting it adds a tiny
	// generateContent (which also catches the per-day quota).
	Model string `yaml:"model,omitempty"`

	// UsageDays is how many days back the billing validator sums usage.
	// Built-in default 99 (OpenAI's usage endpoint allows at most 100).
	UsageDays int `yaml:"usage_days,omitempty"`
}

// The validator kinds.
const (
	ValidatorNone      = "none"
	ValidatorBilling   = "billing"
	ValidatorOpenAI    = "openai"
	ValidatorAnthropic = "anthropic"
	ValidatorGemini    = "gemini"
)

// What OnExhausted accepts.
const (
	ExhaustedDisable = "disable"
	ExhaustedRemove  = "remove"
)

// Checks reports whether the pool's keys are checked at all.
func (v Validator) Checks() bool {
	return v.Kind != "" && v.Kind != ValidatorNone
}

// validatorKinds lists every kind with the providers whose keys it can
// check (their error dialect is what the worker classifies in).
var validatorKinds = map[string][]failure.Provider{
	ValidatorNone:      nil,
	ValidatorBilling:   {failure.OpenAICompatible, failure.OpenAI},
	ValidatorOpenAI:    {failure.OpenAI, failure.OpenAICompatible},
	ValidatorAnthropic: {failure.Anthropic},
	ValidatorGemini:    {failure.Gemini},
}

func builtinValidator() Validator {
	return Validator{
		Interval:         Duration(time.Minute),
		DisabledInterval: Duration(15 * time.Minute),
		RetryInterval:    Duration(30 * time.Second),
		Timeout:          Duration(10 * time.Second),
		Jitter:           0.1,
		Concurrency:      4,
		RateLimit:        5,
		OnExhausted:      ExhaustedDisable,
		UsageDays:        99,
	}
}

// defaultModel is the probe model a kind uses when none is set: only the
// anthropic probe needs one; for openai and gemini a model turns on the
// costlier probe, so there is no default.
func defaultModel(kind string) string {
	if kind == ValidatorAnthropic {
		return "claude-haiku-4-5"
	}
	return ""
}

// Bounds of the validator's settings.
const (
	minInterval    = Duration(time.Second)
	minTimeout     = Duration(100 * time.Millisecond)
	maxTimeout     = Duration(5 * time.Minute)
	maxConcurrency = 1000
	maxUsageDays   = 100
)

// modelRE keeps model names to what providers use, since they end up in
// URL paths and request bodies.
var modelRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$`)

// mergeValidator layers over on top of under, field by field.
func mergeValidator(over, under Validator) Validator {
	pick(&over.Kind, under.Kind)
	pick(&over.Interval, under.Interval)
	pick(&over.DisabledInterval, under.DisabledInterval)
	pick(&over.RetryInterval, under.RetryInterval)
	pick(&over.Timeout, under.Timeout)
	pick(&over.Jitter, under.Jitter)
	pick(&over.Concurrency, under.Concurrency)
	pick(&over.RateLimit, under.RateLimit)
	pick(&over.OnExhausted, under.OnExhausted)
	pick(&over.Model, under.Model)
	pick(&over.UsageDays, under.UsageDays)
	return over
}

// pick fills *over from under when *over is the zero value.
func pick[T comparable](over *T, under T) {
	var zero T
	if *over == zero {
		*over = under
	}
}

// checkValidator checks one layer's validator section v, written at node n
// (the layer's node when written says the section is absent), for bad
// values. Like the rest of a layer, a written zero is an error.
func checkValidator(r *report, path string, n *yaml.Node, written bool, v Validator) {
	check := func(key string, set, ok bool, format string, args ...any) {
		var node *yaml.Node
		if written {
			node = field(n, key)
		}
		if (node != nil || set) && !ok {
			r.at(firstNode(node, n), path+"."+key, format, args...)
		}
	}
	_, known := validatorKinds[v.Kind]
	check("kind", v.Kind != "", known, "unknown validator kind %q (want none, billing, openai, anthropic or gemini)", v.Kind)
	for _, d := range []struct {
		key string
		val Duration
	}{{"interval", v.Interval}, {"disabled_interval", v.DisabledInterval}, {"retry_interval", v.RetryInterval}} {
		check(d.key, d.val != 0, d.val >= minInterval, "must be at least %s, got %s", minInterval, d.val)
	}
	check("timeout", v.Timeout != 0, v.Timeout >= minTimeout && v.Timeout <= maxTimeout,
		"must be between %s and %s, got %s", minTimeout, maxTimeout, v.Timeout)
	check("jitter", v.Jitter != 0, v.Jitter > 0 && v.Jitter <= 1, "must be a fraction above 0 and at most 1, got %v", v.Jitter)
	check("concurrency", v.Concurrency != 0, v.Concurrency >= 1 && v.Concurrency <= maxConcurrency,
		"must be between 1 and %d, got %d", maxConcurrency, v.Concurrency)
	check("rate_limit", v.RateLimit != 0, v.RateLimit > 0 && v.RateLimit <= 10_000,
		"must be above 0 and at most 10000 requests per second, got %v", v.RateLimit)
	check("on_exhausted", v.OnExhausted != "", v.OnExhausted == ExhaustedDisable || v.OnExhausted == ExhaustedRemove,
		"unknown policy %q (want %s or %s)", v.OnExhausted, ExhaustedDisable, ExhaustedRemove)
	check("model", v.Model != "", modelRE.MatchString(v.Model), "%q is not a model name: want 1 to 128 of [A-Za-z0-9._:/-]", v.Model)
	check("usage_days", v.UsageDays != 0, v.UsageDays >= 1 && v.UsageDays <= maxUsageDays,
		"must be between 1 and %d, got %d", maxUsageDays, v.UsageDays)
}

func providerList(ps []failure.Provider) string {
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = string(p)
	}
	return strings.Join(names, " or ")
}

// checkKindFitsProvider checks, on the merged layer eff, that the validator
// kind can read the provider's errors. Like the other cross-field rules it
// is reported by a layer that sets one of the two, at the field it sets.
func checkKindFitsProvider(r *report, path string, n *yaml.Node, p, eff Pool) {
	if p.Provider == "" && p.Validator.Kind == "" {
		return
	}
	allowed, known := validatorKinds[eff.Validator.Kind]
	if _, err := failure.ParseProvider(string(eff.Provider)); err != nil || !known || allowed == nil {
		return
	}
	if slices.Contains(allowed, eff.Provider) {
		return
	}
	kindNode := field(field(n, "validator"), "kind")
	providerNode := field(n, "provider")
	if r.isBroken(kindNode, providerNode) {
		return
	}
	if p.Validator.Kind != "" {
		r.at(firstNode(kindNode, n), path+".validator.kind", "validator %s cannot check keys of provider %s (it needs provider %s)",
			eff.Validator.Kind, eff.Provider, providerList(allowed))
		return
	}
	r.at(firstNode(providerNode, n), path+".provider", "provider %s cannot be checked by validator %s (set validator.kind)",
		eff.Provider, eff.Validator.Kind)
}
