package config

import (
	"reflect"
	"strings"
	"time"

	"github.com/keybroker/keybroker/failure"
)

// Pool is the policy of one pool: which provider its keys belong to, where
// that provider lives, and how long keys are parked or leased.
//
// A zero field means "not set here": it is filled from the layer below
// (Config.Defaults, then the built-in defaults) by Config.Pool, so a pool
// only has to write what makes it different.
type Pool struct {
	// Provider picks the error dialect failures are classified in and the
	// default BaseURL. Built-in default: openai.
	Provider failure.Provider `yaml:"provider,omitempty"`

	// BaseURL is the origin the provider's API paths hang off (the worker
	// appends /v1/... itself), e.g. https://api.openai.com. It must be an
	// absolute http(s) URL without query, fragment or credentials. When no
	// layer sets it, it defaults per provider: https://api.openai.com,
	// https://api.anthropic.com, https://generativelanguage.googleapis.com;
	// openai-compatible has no default and must set it. A trailing slash is
	// dropped.
	BaseURL string `yaml:"base_url,omitempty"`

	// Selection is how GetRandom chooses among the active keys: random,
	// round_robin, weighted or least_used. Built-in default: random.
	Selection Selection `yaml:"selection,omitempty"`

	// CooldownDefault is how long a rate-limited key is parked when the
	// report carries no Retry-After or reset header. Must be > 0; built-in
	// default 60s.
	CooldownDefault Duration `yaml:"cooldown_default,omitempty"`

	// CooldownMax caps every cooldown, whatever the provider asked for, so
	// a bogus header cannot park a key for a week. Must be at least
	// CooldownDefault; built-in default 1h.
	CooldownMax Duration `yaml:"cooldown_max,omitempty"`

	// LeaseTTL is how long a GetRandom lease stays valid for ReportFailure.
	// Between 1s and 24h; built-in default 5m.
	LeaseTTL Duration `yaml:"lease_ttl,omitempty"`

	// AuthHeader is how the worker presents a key to this pool's upstream:
	// "authorization" (Authorization: Bearer), "x-api-key",
	// "x-goog-api-key", "api-key" (Azure OpenAI), or "query" (?key=). When
	// no layer sets it, Auth follows the provider: authorization for openai
	// and openai-compatible, x-api-key for anthropic, query for gemini.
	AuthHeader string `yaml:"auth_header,omitempty"`

	// Classify lists override rules tried, in order, before the built-in
	// classification table, for an upstream whose errors the table reads
	// wrongly. A pool that sets it replaces the list of the layer below.
	Classify []ClassifyRule `yaml:"classify,omitempty"`

	// AuditLength is about how many entries each of the pool's two audit
	// streams keeps (callers' changes; admins' and the worker's decisions),
	// oldest first out. Between 100 and 1,000,000; unset (0) is
	// DefaultAuditLength (see AuditEntries).
	AuditLength int `yaml:"audit_length,omitempty"`

	// Validator holds the validation worker's settings for this pool.
	Validator Validator `yaml:"validator,omitempty"`

	// Limits are every key's rate limits, for budgets (docs/budgets.md):
	// unset, keys are limited by what the broker learns from the
	// provider's rate-limit headers, if anything.
	Limits Limits `yaml:"limits,omitempty"`

	// Tiers names sets of limits that Add gives single keys (AddRequest's
	// tiers), for pools mixing keys of different provider tiers. A pool
	// that sets it replaces the map of the layer below.
	Tiers map[string]Limits `yaml:"tiers,omitempty"`
	// ConfirmDelay is the least time between the worker's first bad
	// answer for a key and the check that confirms it: one blip cannot
	// both accuse and convict a key. Built-in default 30s.
	ConfirmDelay Duration `yaml:"confirm_delay,omitempty"`

	// MaxRemovals is how many keys the worker may quarantine per
	// RemovalWindow: a count or a share of the pool ("10%", at least 1).
	// Past it the pool holds: keys that look invalid stay suspect until
	// they check valid or an admin releases them. Built-in default 10%.
	MaxRemovals Allowance `yaml:"max_removals,omitempty"`

	// RemovalWindow is the window MaxRemovals counts over. Built-in
	// default 10m.
	RemovalWindow Duration `yaml:"removal_window,omitempty"`

	// QuarantineRetention is how long a quarantined key is kept (and
	// re-checked) before it is purged. Built-in default 168h (7 days).
	QuarantineRetention Duration `yaml:"quarantine_retention,omitempty"`

	// SuspectTimeout bounds how long a caller's report parks a key in a
	// pool no validator checks: the key is active again after it. Built-in
	// default 10m.
	SuspectTimeout Duration `yaml:"suspect_timeout,omitempty"`

	// MinActive is the fewest active keys that callers' reports leave in
	// the pool: a report that would park one of the last MinActive active
	// keys leaves it active. Built-in default 1.
	MinActive int `yaml:"min_active,omitempty"`

	// MinKeys is the fewest active keys the pool should have: below it
	// the KeybrokerPoolLow alert fires (keybroker_pool_min_keys). 0 turns
	// that alert off for the pool. Unset anywhere: DefaultMinKeys. A
	// pointer, so that an explicit 0 is told apart from "inherit".
	MinKeys *int `yaml:"min_keys,omitempty"`
}

// DefaultMinKeys is MinKeys when no layer sets it.
const DefaultMinKeys = 3

// LowWater is the pool's MinKeys, or DefaultMinKeys when unset.
func (p Pool) LowWater() int {
	if p.MinKeys == nil {
		return DefaultMinKeys
	}
	return *p.MinKeys
}

// builtin is the bottom layer: the policy of a pool nothing else talks
// about. It has no BaseURL on purpose: that default depends on the provider,
// which is only known once all layers are merged.
func builtin() Pool {
	p := Pool{
		Provider:        failure.OpenAI,
		Selection:       Random,
		CooldownDefault: Duration(60 * time.Second),
		CooldownMax:     Duration(time.Hour),
		LeaseTTL:        Duration(5 * time.Minute),
		Validator:       builtinValidator(),
	}
	builtinSafety(&p)
	return p
}

// Audit trail bounds, per stream.
const (
	DefaultAuditLength = 10_000
	minAuditLength     = 100
	maxAuditLength     = 1_000_000
)

// Lease TTL bounds: shorter than a second cannot cover one upstream call;
// longer than a day keeps dead leases around for nothing.
const (
	minLeaseTTL = Duration(time.Second)
	maxLeaseTTL = Duration(24 * time.Hour)
)

// defaultBaseURL is the provider's own API origin; "" for openai-compatible
// relays, which have no single home.
func defaultBaseURL(p failure.Provider) string {
	switch p {
	case failure.OpenAI:
		return "https://api.openai.com"
	case failure.Anthropic:
		return "https://api.anthropic.com"
	case failure.Gemini:
		return "https://generativelanguage.googleapis.com"
	default:
		return ""
	}
}

// merge layers over on top of under: every field over leaves at its zero
// value is taken from under.
func merge(over, under Pool) Pool {
	if over.Provider == "" {
		over.Provider = under.Provider
	}
	if over.BaseURL == "" {
		over.BaseURL = under.BaseURL
	}
	if over.Selection == "" {
		over.Selection = under.Selection
	}
	if over.CooldownDefault == 0 {
		over.CooldownDefault = under.CooldownDefault
	}
	if over.CooldownMax == 0 {
		over.CooldownMax = under.CooldownMax
	}
	if over.LeaseTTL == 0 {
		over.LeaseTTL = under.LeaseTTL
	}
	if over.AuthHeader == "" {
		over.AuthHeader = under.AuthHeader
	}
	if over.AuditLength == 0 {
		over.AuditLength = under.AuditLength
	}
	if over.Classify == nil {
		over.Classify = under.Classify
	}
	if over.MinKeys == nil {
		over.MinKeys = under.MinKeys
	}
	over.Validator = mergeValidator(over.Validator, under.Validator)
	over.Limits = mergeLimits(over.Limits, under.Limits)
	if over.Tiers == nil {
		over.Tiers = under.Tiers
	}
	mergeSafety(&over, under)
	return over
}

// resolve turns a pool layered over the defaults into the effective policy:
// it merges the built-ins in and then fills the provider's BaseURL.
func resolve(declared, defaults Pool) Pool {
	p := merge(declared, merge(defaults, builtin()))
	if p.BaseURL == "" {
		p.BaseURL = defaultBaseURL(p.Provider)
	}
	p.BaseURL = strings.TrimRight(p.BaseURL, "/")
	if p.Validator.Model == "" {
		p.Validator.Model = defaultModel(p.Validator.Kind)
	}
	return p
}

// Until is when a key the verdict parks returns by itself: for a rate
// limit, after the provider's Retry-After (the pool's CooldownDefault when
// it gave none), never later than CooldownMax; for exhausted quota, at the
// provider's known reset; otherwise never (zero). ReportFailure and the
// worker both use it, so a pool's keys cool down the same way whoever saw
// the refusal.
func (p Pool) Until(v failure.Verdict, now time.Time) time.Time {
	switch v.Kind {
	case failure.RateLimited:
		d := v.RetryAfter
		if d <= 0 {
			d = time.Duration(p.CooldownDefault)
		}
		return now.Add(min(d, time.Duration(p.CooldownMax)))
	case failure.QuotaExhausted:
		return v.Until
	}
	return time.Time{}
}

// AuditEntries is the pool's audit stream cap: AuditLength, or
// DefaultAuditLength when unset.
func (p Pool) AuditEntries() int {
	if p.AuditLength == 0 {
		return DefaultAuditLength
	}
	return p.AuditLength
}

// Equal reports whether two policies are the same, for callers that
// rebuild what depends on a pool only when its policy changed.
func (p Pool) Equal(q Pool) bool {
	return reflect.DeepEqual(p, q)
}
