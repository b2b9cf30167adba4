package config

import (
	"cmp"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/keybroker/keybroker/failure"
)

func d(s string) Duration {
	v, err := time.ParseDuration(s)
	if err != nil {
		panic(err)
	}
	return Duration(v)
}

// bv is the built-in validator settings, with kind as given.
func bv(kind string) Validator {
	return Validator{
		Kind: kind, Interval: d("1m"), DisabledInterval: d("15m"), RetryInterval: d("30s"), Timeout: d("10s"),
		Jitter: 0.1, Concurrency: 4, RateLimit: 5, OnExhausted: "disable", UsageDays: 99,
	}
}

// builtinOpenAI is the effective policy of a pool nothing configures.
var builtinOpenAI = withSafety(Pool{
	Provider:        failure.OpenAI,
	Selection:       Random,
	BaseURL:         "https://api.openai.com",
	CooldownDefault: d("60s"),
	CooldownMax:     d("1h"),
	LeaseTTL:        d("5m"),
	Validator:       bv(""),
})

// withSafety fills in the built-in key-safety policy where p sets none.
func withSafety(p Pool) Pool {
	mergeSafety(&p, Pool{ConfirmDelay: d("30s"), MaxRemovals: Allowance{Percent: 10}, RemovalWindow: d("10m"),
		QuarantineRetention: d("168h"), SuspectTimeout: d("10m"), MinActive: 1})
	return p
}

// withSelection fills in the built-in selection where p names none.
func withSelection(p Pool) Pool {
	p.Selection = cmp.Or(p.Selection, Random)
	return p
}

func mustParse(t *testing.T, src string) *Config {
	t.Helper()
	c, err := Parse("pools.yaml", []byte(src))
	if err != nil {
		t.Fatalf("Parse:\n%s\nerror:\n%v", src, err)
	}
	return c
}

// problems splits a joined error into its messages.
func problems(err error) []string {
	if err == nil {
		return nil
	}
	var out []string
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			out = append(out, e.Error())
		}
		return out
	}
	return []string{err.Error()}
}

func TestExampleLoads(t *testing.T) {
	c, err := Load(filepath.Join("testdata", "example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.PoolNames(), []string{"anthropic-main", "gemini-main", "openai-main", "relay"}; !reflect.DeepEqual(got, want) {
		t.Errorf("PoolNames() = %v, want %v", got, want)
	}
	openaiV := bv("openai")
	openaiV.Interval = d("5m")
	anthropicV := bv("anthropic")
	anthropicV.Model, anthropicV.Interval, anthropicV.RateLimit = "claude-haiku-4-5", d("1h"), 1
	relayV := bv("billing")
	relayV.Interval, relayV.DisabledInterval, relayV.Concurrency, relayV.OnExhausted = d("10m"), d("1h"), 8, "remove"
	want := map[string]Pool{
		"openai-main": {
			Provider: failure.OpenAI, BaseURL: "https://api.openai.com",
			CooldownDefault: d("60s"), CooldownMax: d("30m"), LeaseTTL: d("5m"),
			Validator: openaiV,
			Limits:    Limits{RequestsPerMinute: 500, TokensPerMinute: 200000, Window: d("1m")},
			Tiers:     map[string]Limits{"tier-2": {RequestsPerMinute: 5000, TokensPerMinute: 2000000}},
		},
		"anthropic-main": {
			Provider: failure.Anthropic, BaseURL: "https://api.anthropic.com", Selection: LeastUsed,
			CooldownDefault: d("20s"), CooldownMax: d("30m"), LeaseTTL: d("5m"),
			Validator: anthropicV,
		},
		"gemini-main": {
			Provider: failure.Gemini, BaseURL: "https://generativelanguage.googleapis.com",
			CooldownDefault: d("60s"), CooldownMax: d("2h"), LeaseTTL: d("2m"),
			Validator: bv("none"),
		},
		"relay": {
			Provider: failure.OpenAICompatible, BaseURL: "https://relay.example.com", Selection: Weighted,
			CooldownDefault: d("30s"), CooldownMax: d("30m"), LeaseTTL: d("10m"),
			Validator: relayV,
		},
		"not-declared": {
			Provider: failure.OpenAI, BaseURL: "https://api.openai.com",
			CooldownDefault: d("60s"), CooldownMax: d("30m"), LeaseTTL: d("5m"),
			Validator: bv("none"),
		},
	}
	relay := want["relay"]
	relay.ConfirmDelay, relay.MaxRemovals = d("1m"), Allowance{Count: 2}
	want["relay"] = relay
	for name, w := range want { // the built-in selection unless the case names another
		want[name] = withSafety(withSelection(w))
	}
	for name, w := range want {
		if got := c.Pool(name); !got.Equal(w) {
			t.Errorf("Pool(%q) =\n%+v\nwant\n%+v", name, got, w)
		}
	}
}

func TestUndeclaredPoolDefaults(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want Pool
	}{
		{"empty file", "", builtinOpenAI},
		{"comments only", "# nothing yet\n", builtinOpenAI},
		{"empty document", "---\n", builtinOpenAI},
		{"empty sections", "defaults:\npools:\n", builtinOpenAI},
		{"other pools declared", "pools:\n  a:\n    lease_ttl: 1m\n", builtinOpenAI},
		{
			"defaults apply",
			"defaults:\n  provider: anthropic\n  cooldown_max: 2h\n",
			Pool{Provider: failure.Anthropic, BaseURL: "https://api.anthropic.com", CooldownDefault: d("60s"), CooldownMax: d("2h"), LeaseTTL: d("5m"), Validator: bv("")},
		},
		{
			"gemini base url",
			"defaults:\n  provider: gemini\n",
			Pool{Provider: failure.Gemini, BaseURL: "https://generativelanguage.googleapis.com", CooldownDefault: d("60s"), CooldownMax: d("1h"), LeaseTTL: d("5m"), Validator: bv("")},
		},
		{
			"relay defaults",
			"defaults:\n  provider: openai-compatible\n  base_url: https://relay.example.com/\n",
			Pool{Provider: failure.OpenAICompatible, BaseURL: "https://relay.example.com", CooldownDefault: d("60s"), CooldownMax: d("1h"), LeaseTTL: d("5m"), Validator: bv("")},
		},
	}
	for i := range tests { // the built-in selection unless the case names another
		tests[i].want = withSafety(withSelection(tests[i].want))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustParse(t, tt.src)
			if got := c.Pool("undeclared"); !got.Equal(tt.want) {
				t.Errorf("Pool(undeclared) =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestLayering(t *testing.T) {
	// Each case layers one field: built-in only, defaults only, pool only,
	// and pool over defaults.
	tests := []struct {
		name     string
		defaults string // YAML lines under defaults:
		pool     string // YAML lines under pools.p:
		check    func(Pool) any
		want     any
	}{
		{"provider builtin", "", "", func(p Pool) any { return p.Provider }, failure.OpenAI},
		{"provider defaults", "provider: gemini", "", func(p Pool) any { return p.Provider }, failure.Gemini},
		{"provider pool", "", "provider: anthropic", func(p Pool) any { return p.Provider }, failure.Anthropic},
		{"provider pool over defaults", "provider: gemini", "provider: anthropic", func(p Pool) any { return p.Provider }, failure.Anthropic},

		{"selection builtin", "", "", func(p Pool) any { return p.Selection }, Random},
		{"selection defaults", "selection: least_used", "", func(p Pool) any { return p.Selection }, LeastUsed},
		{"selection pool", "", "selection: weighted", func(p Pool) any { return p.Selection }, Weighted},
		{"selection pool over defaults", "selection: weighted", "selection: round_robin", func(p Pool) any { return p.Selection }, RoundRobin},

		{"base_url builtin follows provider from defaults", "provider: anthropic", "", func(p Pool) any { return p.BaseURL }, "https://api.anthropic.com"},
		{"base_url builtin follows provider from pool", "", "provider: gemini", func(p Pool) any { return p.BaseURL }, "https://generativelanguage.googleapis.com"},
		{"base_url defaults", "base_url: http://proxy.internal:8080", "", func(p Pool) any { return p.BaseURL }, "http://proxy.internal:8080"},
		{"base_url pool", "", "base_url: https://eu.example.com/openai", func(p Pool) any { return p.BaseURL }, "https://eu.example.com/openai"},
		{"base_url pool over defaults", "base_url: https://a.example.com", "base_url: https://b.example.com", func(p Pool) any { return p.BaseURL }, "https://b.example.com"},
		{"base_url from defaults with relay provider in pool", "base_url: https://r.example.com", "provider: openai-compatible", func(p Pool) any { return p.BaseURL }, "https://r.example.com"},

		{"cooldown_default builtin", "", "", func(p Pool) any { return p.CooldownDefault }, d("60s")},
		{"cooldown_default defaults", "cooldown_default: 10s", "", func(p Pool) any { return p.CooldownDefault }, d("10s")},
		{"cooldown_default pool", "", "cooldown_default: 90s", func(p Pool) any { return p.CooldownDefault }, d("90s")},
		{"cooldown_default pool over defaults", "cooldown_default: 10s", "cooldown_default: 20s", func(p Pool) any { return p.CooldownDefault }, d("20s")},

		{"cooldown_max builtin", "", "", func(p Pool) any { return p.CooldownMax }, d("1h")},
		{"cooldown_max defaults", "cooldown_max: 10m", "", func(p Pool) any { return p.CooldownMax }, d("10m")},
		{"cooldown_max pool", "", "cooldown_max: 3h", func(p Pool) any { return p.CooldownMax }, d("3h")},
		{"cooldown_max pool over defaults", "cooldown_max: 10m", "cooldown_max: 20m", func(p Pool) any { return p.CooldownMax }, d("20m")},

		{"lease_ttl builtin", "", "", func(p Pool) any { return p.LeaseTTL }, d("5m")},
		{"lease_ttl defaults", "lease_ttl: 1m", "", func(p Pool) any { return p.LeaseTTL }, d("1m")},
		{"lease_ttl pool", "", "lease_ttl: 24h", func(p Pool) any { return p.LeaseTTL }, d("24h")},
		{"lease_ttl pool over defaults", "lease_ttl: 1m", "lease_ttl: 1s", func(p Pool) any { return p.LeaseTTL }, d("1s")},

		{"validator builtin", "", "", func(p Pool) any { return p.Validator.Kind }, ""},
		{"validator defaults", "validator: {kind: none}", "", func(p Pool) any { return p.Validator.Kind }, "none"},
		{"validator pool", "", "validator:\n  kind: none", func(p Pool) any { return p.Validator.Kind }, "none"},
		{"validator empty pool section", "validator: {kind: none}", "validator: {}", func(p Pool) any { return p.Validator.Kind }, "none"},
		{"validator interval builtin", "", "", func(p Pool) any { return p.Validator.Interval }, d("1m")},
		{"validator interval pool over defaults", "validator: {interval: 5m}", "validator: {interval: 7m}", func(p Pool) any { return p.Validator.Interval }, d("7m")},
		{"validator field from defaults kept beside a pool field", "validator: {interval: 5m}", "validator: {timeout: 2s}", func(p Pool) any { return p.Validator.Interval }, d("5m")},
		{"validator on_exhausted defaults", "validator: {on_exhausted: remove}", "", func(p Pool) any { return p.Validator.OnExhausted }, "remove"},
		{"validator jitter pool", "", "validator: {jitter: 0.5}", func(p Pool) any { return p.Validator.Jitter }, 0.5},
		{"anthropic model default", "", "provider: anthropic\nvalidator: {kind: anthropic}", func(p Pool) any { return p.Validator.Model }, "claude-haiku-4-5"},
		{"anthropic model set", "validator: {model: claude-opus-4-1}", "provider: anthropic\nvalidator: {kind: anthropic}", func(p Pool) any { return p.Validator.Model }, "claude-opus-4-1"},
		{"openai has no default model", "", "validator: {kind: openai}", func(p Pool) any { return p.Validator.Model }, ""},
	}
	indent := func(s, pad string) string {
		if s == "" {
			return ""
		}
		return pad + strings.ReplaceAll(s, "\n", "\n"+pad) + "\n"
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "defaults:\n" + indent(tt.defaults, "  ") + "pools:\n  p:\n" + indent(tt.pool, "    ")
			c := mustParse(t, src)
			if got := tt.check(c.Pool("p")); got != tt.want {
				t.Errorf("with\n%s\ngot %v, want %v", src, got, tt.want)
			}
			// Fields the pool does not set match an undeclared pool.
			if tt.pool == "" {
				if got, want := c.Pool("p"), c.Pool("undeclared"); !got.Equal(want) {
					t.Errorf("empty pool %+v differs from undeclared %+v", got, want)
				}
			}
		})
	}
}

func TestLayeringKeepsOtherFields(t *testing.T) {
	c := mustParse(t, `
defaults:
  provider: anthropic
  cooldown_default: 15s
  cooldown_max: 15m
  lease_ttl: 2m
  validator: {kind: none}
pools:
  a:
    lease_ttl: 30s
`)
	want := withSafety(Pool{
		Provider: failure.Anthropic, BaseURL: "https://api.anthropic.com", Selection: Random,
		CooldownDefault: d("15s"), CooldownMax: d("15m"), LeaseTTL: d("30s"),
		Validator: bv("none"),
	})
	if got := c.Pool("a"); !got.Equal(want) {
		t.Errorf("Pool(a) =\n%+v\nwant\n%+v", got, want)
	}
	// The layers themselves are kept as written.
	if got := c.Pools["a"]; !got.Equal(Pool{LeaseTTL: d("30s")}) {
		t.Errorf("Pools[a] = %+v, want only lease_ttl", got)
	}
}

func TestMinKeys(t *testing.T) {
	c, err := Parse("t.yaml", []byte("defaults:\n  min_keys: 5\npools:\n  quiet:\n    min_keys: 0\n  big: {}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Pool("quiet").LowWater(); got != 0 {
		t.Errorf("quiet: %d, want an explicit 0 kept", got)
	}
	if got := c.Pool("big").LowWater(); got != 5 {
		t.Errorf("big: %d, want the defaults' 5", got)
	}
	if got := Default().Pool("any").LowWater(); got != DefaultMinKeys {
		t.Errorf("built-in: %d", got)
	}
	if _, err := Parse("t.yaml", []byte("pools:\n  p:\n    min_keys: -1\n")); err == nil || !strings.Contains(err.Error(), "min_keys") {
		t.Errorf("min_keys -1: %v", err)
	}
}

func TestMerge(t *testing.T) {
	full := Pool{
		Provider: failure.Gemini, BaseURL: "https://u", CooldownDefault: 1, CooldownMax: 2, LeaseTTL: 3, AuditLength: 11,
		AuthHeader: AuthXGoogAPIKey, Classify: []ClassifyRule{{Status: 500, Kind: "transient"}},
		Validator: Validator{Kind: "gemini", Interval: 4, DisabledInterval: 5, RetryInterval: 6, Timeout: 7, Jitter: 0.5,
			Concurrency: 8, RateLimit: 9, OnExhausted: "remove", Model: "m", UsageDays: 10},
		Limits:       Limits{RequestsPerMinute: 11, TokensPerMinute: 12, Window: 13},
		Tiers:        map[string]Limits{"t": {RequestsPerMinute: 14}},
		ConfirmDelay: 11, MaxRemovals: Allowance{Count: 12}, RemovalWindow: 13, QuarantineRetention: 14,
		SuspectTimeout: 15, MinActive: 16,
		MinKeys: new(int),
	}
	full.Selection = LeastUsed
	if got := merge(Pool{}, full); !got.Equal(full) {
		t.Errorf("merge(zero, full) = %+v, want %+v", got, full)
	}
	if got := merge(full, Pool{}); !got.Equal(full) {
		t.Errorf("merge(full, zero) = %+v, want %+v", got, full)
	}
	over := Pool{Provider: failure.Anthropic, LeaseTTL: 9}
	want := full
	want.Provider, want.LeaseTTL = failure.Anthropic, 9
	if got := merge(over, full); !got.Equal(want) {
		t.Errorf("merge(partial, full) = %+v, want %+v", got, want)
	}
	// Every field of Pool must be handled by merge: a new field that is
	// forgotten there would stay zero here.
	v := reflect.ValueOf(merge(Pool{}, full))
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			t.Errorf("merge does not layer field %s", v.Type().Field(i).Name)
		}
	}
	vv := v.FieldByName("Validator")
	for i := range vv.NumField() {
		if vv.Field(i).IsZero() {
			t.Errorf("merge does not layer field Validator.%s", vv.Type().Field(i).Name)
		}
	}
	// A validator field set in the pool wins over the one below, alone.
	got := merge(Pool{Validator: Validator{Concurrency: 99}}, full).Validator
	wantV := full.Validator
	wantV.Concurrency = 99
	if got != wantV {
		t.Errorf("merge(validator.concurrency only, full) = %+v, want %+v", got, wantV)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string // every problem, in order, as a prefix of its message
	}{
		{
			"unknown provider",
			"pools:\n  a:\n    provider: mistral\n",
			[]string{`pools.yaml:3: pools.a.provider: unknown provider "mistral"`},
		},
		{
			"empty provider",
			"defaults:\n  provider: ''\n",
			[]string{`pools.yaml:2: defaults.provider: unknown provider ""`},
		},
		{
			"relay without base_url",
			"pools:\n  r:\n    provider: openai-compatible\n",
			[]string{"pools.yaml:3: pools.r.base_url: required for provider openai-compatible"},
		},
		{
			"relay without base_url in defaults",
			"defaults:\n  provider: openai-compatible\npools:\n  a:\n    lease_ttl: 1m\n  b:\n    provider: openai-compatible\n",
			[]string{
				"pools.yaml:2: defaults.base_url: required for provider openai-compatible",
				"pools.yaml:7: pools.b.base_url: required for provider openai-compatible",
			},
		},
		{
			"base_url relative",
			"pools:\n  a:\n    base_url: api.openai.com\n",
			[]string{`pools.yaml:3: pools.a.base_url: "api.openai.com" must be an absolute http or https URL`},
		},
		{
			"base_url scheme",
			"pools:\n  a:\n    base_url: ftp://relay.example.com\n",
			[]string{`pools.yaml:3: pools.a.base_url: "ftp://relay.example.com" must be an absolute http or https URL`},
		},
		{
			"base_url empty",
			"pools:\n  a:\n    base_url: ''\n",
			[]string{`pools.yaml:3: pools.a.base_url: "" must be an absolute http or https URL`},
		},
		{
			"base_url query",
			"pools:\n  a:\n    base_url: https://r.example.com/?key=1\n",
			[]string{`pools.yaml:3: pools.a.base_url: "https://r.example.com/?key=1" must not have a query`},
		},
		{
			"base_url fragment",
			"pools:\n  a:\n    base_url: https://r.example.com/#x\n",
			[]string{`pools.yaml:3: pools.a.base_url: "https://r.example.com/#x" must not have a fragment`},
		},
		{
			"base_url credentials are not echoed",
			"pools:\n  a:\n    base_url: https://user:s3cret@r.example.com\n",
			[]string{`pools.yaml:3: pools.a.base_url: "https://user:xxxxx@r.example.com" must not carry credentials`},
		},
		{
			"base_url unparsable",
			"pools:\n  a:\n    base_url: 'http://a b'\n",
			[]string{`pools.yaml:3: pools.a.base_url: invalid URL`},
		},
		{
			"unknown selection",
			"pools:\n  a:\n    selection: fastest\n",
			[]string{`pools.yaml:3: pools.a.selection: unknown selection "fastest" (want random, round_robin, weighted, least_used)`},
		},
		{
			"empty selection",
			"defaults:\n  selection: ''\n",
			[]string{`pools.yaml:2: defaults.selection: unknown selection ""`},
		},
		{
			"selection not a string",
			"pools:\n  a:\n    selection: [random]\n",
			[]string{`pools.yaml:3: pools.a.selection: cannot unmarshal !!seq into config.Selection`},
		},
		{
			"cooldown_default zero",
			"defaults:\n  cooldown_default: 0s\n",
			[]string{"pools.yaml:2: defaults.cooldown_default: must be greater than 0, got 0s"},
		},
		{
			"cooldown_default negative",
			"pools:\n  a:\n    cooldown_default: -5s\n",
			[]string{"pools.yaml:3: pools.a.cooldown_default: must be greater than 0, got -5s"},
		},
		{
			"cooldown_max negative",
			"pools:\n  a:\n    cooldown_max: -1h\n",
			[]string{"pools.yaml:3: pools.a.cooldown_max: must be greater than 0, got -1h"},
		},
		{
			"cooldown_max below built-in default",
			"pools:\n  openai-main:\n    provider: openai\n    cooldown_max: 30s\n",
			[]string{"pools.yaml:4: pools.openai-main.cooldown_max: must be at least cooldown_default (1m)"},
		},
		{
			"cooldown_default above inherited max",
			"defaults:\n  cooldown_max: 1m\npools:\n  a:\n    cooldown_default: 2m\n",
			[]string{"pools.yaml:5: pools.a.cooldown_default: must be at most cooldown_max (1m)"},
		},
		{
			"cooldown mismatch in defaults is blamed once",
			"defaults:\n  cooldown_max: 10s\npools:\n  a:\n    lease_ttl: 1m\n  b:\n",
			[]string{"pools.yaml:2: defaults.cooldown_max: must be at least cooldown_default (1m)"},
		},
		{
			"lease_ttl too short",
			"pools:\n  a:\n    lease_ttl: 500ms\n",
			[]string{"pools.yaml:3: pools.a.lease_ttl: must be between 1s and 24h, got 500ms"},
		},
		{
			"lease_ttl too long",
			"defaults:\n  lease_ttl: 25h\n",
			[]string{"pools.yaml:2: defaults.lease_ttl: must be between 1s and 24h, got 25h"},
		},
		{
			"lease_ttl zero",
			"pools:\n  a:\n    lease_ttl: 0s\n",
			[]string{"pools.yaml:3: pools.a.lease_ttl: must be between 1s and 24h, got 0s"},
		},
		{
			"key-safety values",
			"pools:\n  a:\n    confirm_delay: 0s\n    max_removals: 0\n    removal_window: 500ms\n    quarantine_retention: 30s\n" +
				"    suspect_timeout: -1s\n    min_active: 0\n  b:\n    max_removals: 150%\n    confirm_delay: 25h\n",
			[]string{
				"pools.yaml:3: pools.a.confirm_delay: must be between 1s and 24h, got 0s",
				"pools.yaml:4: pools.a.max_removals: must be a count of at least 1 or a share above 0% and at most 100%, got 0",
				"pools.yaml:5: pools.a.removal_window: must be at least 1s, got 500ms",
				"pools.yaml:6: pools.a.quarantine_retention: must be at least 1m, got 30s",
				"pools.yaml:7: pools.a.suspect_timeout: must be at least 1s, got -1s",
				"pools.yaml:8: pools.a.min_active: must be between 1 and 1000000, got 0",
				"pools.yaml:10: pools.b.max_removals: must be a count of at least 1 or a share above 0% and at most 100%, got 150%",
				"pools.yaml:11: pools.b.confirm_delay: must be between 1s and 24h, got 25h",
			},
		},
		{
			"max_removals not a number",
			"defaults:\n  max_removals: many\n",
			[]string{`pools.yaml:2: defaults.max_removals: invalid value "many": want a count such as 3 or a share of the pool such as "10%"`},
		},
		{
			"validator kind unknown",
			"pools:\n  a:\n    validator:\n      kind: probe\n",
			[]string{`pools.yaml:4: pools.a.validator.kind: unknown validator kind "probe" (want none, billing, openai, anthropic or gemini)`},
		},
		{
			"validator kind empty",
			"pools:\n  a:\n    validator:\n      kind: ''\n",
			[]string{`pools.yaml:4: pools.a.validator.kind: unknown validator kind ""`},
		},
		{
			"validator values",
			"defaults:\n  validator:\n    interval: 500ms\n    disabled_interval: 0s\n    retry_interval: -1s\n    timeout: 10m\n" +
				"    jitter: 1.5\n    concurrency: 0\n    rate_limit: -2\n    on_exhausted: delete\n    model: 'gpt 4'\n    usage_days: 101\n",
			[]string{
				"pools.yaml:3: defaults.validator.interval: must be at least 1s, got 500ms",
				"pools.yaml:4: defaults.validator.disabled_interval: must be at least 1s, got 0s",
				"pools.yaml:5: defaults.validator.retry_interval: must be at least 1s, got -1s",
				"pools.yaml:6: defaults.validator.timeout: must be between 100ms and 5m, got 10m",
				"pools.yaml:7: defaults.validator.jitter: must be a fraction above 0 and at most 1, got 1.5",
				"pools.yaml:8: defaults.validator.concurrency: must be between 1 and 1000, got 0",
				"pools.yaml:9: defaults.validator.rate_limit: must be above 0 and at most 10000 requests per second, got -2",
				`pools.yaml:10: defaults.validator.on_exhausted: unknown policy "delete" (want disable or remove)`,
				`pools.yaml:11: defaults.validator.model: "gpt 4" is not a model name`,
				"pools.yaml:12: defaults.validator.usage_days: must be between 1 and 100, got 101",
			},
		},
		{
			"validator jitter zero and not a number",
			"pools:\n  a:\n    validator: {jitter: 0}\n  b:\n    validator:\n      rate_limit: .nan\n",
			[]string{
				"pools.yaml:3: pools.a.validator.jitter: must be a fraction above 0 and at most 1, got 0",
				"pools.yaml:6: pools.b.validator.rate_limit: must be above 0",
			},
		},
		{
			"validator wrong type",
			"pools:\n  a:\n    validator:\n      concurrency: many\n",
			[]string{"pools.yaml:4: pools.a.validator.concurrency: cannot unmarshal !!str `many` into int"},
		},
		{
			"validator kind does not fit the pool's provider",
			"pools:\n  a:\n    provider: anthropic\n    validator:\n      kind: billing\n",
			[]string{"pools.yaml:5: pools.a.validator.kind: validator billing cannot check keys of provider anthropic (it needs provider openai-compatible or openai)"},
		},
		{
			"provider does not fit the validator from defaults",
			"defaults:\n  validator: {kind: gemini}\n  provider: gemini\npools:\n  a:\n    provider: openai\n  b:\n    lease_ttl: 1m\n",
			[]string{"pools.yaml:6: pools.a.provider: provider openai cannot be checked by validator gemini (set validator.kind)"},
		},
		{
			"bad duration string",
			"pools:\n  a:\n    cooldown_default: soon\n",
			[]string{`pools.yaml:3: pools.a.cooldown_default: invalid duration "soon"`},
		},
		{
			"duration without unit",
			"defaults:\n  lease_ttl: 300\n",
			[]string{`pools.yaml:2: defaults.lease_ttl: invalid duration "300"`},
		},
		{
			"duration not a scalar",
			"defaults:\n  lease_ttl: [5m]\n",
			[]string{`pools.yaml:2: defaults.lease_ttl: want a duration such as "90s" or "1h", not a list`},
		},
		{
			"bad duration does not also fail the cross-field rule",
			"pools:\n  a:\n    cooldown_default: soon\n    cooldown_max: 30s\n",
			[]string{`pools.yaml:3: pools.a.cooldown_default: invalid duration "soon"`},
		},
		{
			"invalid pool name",
			"pools:\n  ok-1: {}\n  'bad name': {}\n  .hidden: {}\n",
			[]string{
				`pools.yaml:3: pools: invalid pool name "bad name"`,
				`pools.yaml:4: pools: invalid pool name ".hidden"`,
			},
		},
		{
			"pool name too long",
			"pools:\n  " + strings.Repeat("x", 65) + ": {}\n",
			[]string{`pools.yaml:2: pools: invalid pool name "` + strings.Repeat("x", 65) + `"`},
		},
		{
			"unknown top-level field",
			"defaults: {}\npool:\n  a: {}\n",
			[]string{"pools.yaml:2: pool: field pool not found in type config.Config"},
		},
		{
			"unknown pool field",
			"pools:\n  a:\n    provider: openai\n    cooldown: 5s\n",
			[]string{"pools.yaml:4: pools.a.cooldown: field cooldown not found in type config.Pool"},
		},
		{
			"unknown validator field",
			"defaults:\n  validator:\n    intervall: 1h\n",
			[]string{"pools.yaml:3: defaults.validator.intervall: field intervall not found in type config.Validator"},
		},
		{
			"unknown field in flow style names the enclosing path",
			"pools:\n  a: {lease_ttl: 1m, colour: blue}\n",
			[]string{"pools.yaml:2: pools.a: field colour not found in type config.Pool"},
		},
		{
			"unknown field in nested flow style",
			"pools:\n  a: {validator: {knd: none}}\n",
			[]string{"pools.yaml:2: pools.a.validator.knd: field knd not found in type config.Validator"},
		},
		{
			"duplicate key",
			"pools:\n  a:\n    lease_ttl: 1m\n    lease_ttl: 2m\n",
			[]string{`pools.yaml:4: pools.a.lease_ttl: mapping key "lease_ttl" already defined at line 3`},
		},
		{
			"duplicate pool",
			"pools:\n  a: {}\n  a: {}\n",
			[]string{`pools.yaml:3: pools.a: mapping key "a" already defined at line 2`},
		},
		{
			"wrong shape",
			"pools:\n  - a\n",
			[]string{"pools.yaml:2: cannot unmarshal !!seq into map[string]config.Pool"},
		},
		{
			// yaml names the line of the enclosing block, not of the stray key.
			"syntax error",
			"pools:\n  a:\n    provider: openai\n   lease_ttl: 1m\n",
			[]string{"pools.yaml:1: did not find expected key"},
		},
		{
			"syntax error in a later line",
			"pools:\n  a:\n    provider: \"openai\n",
			[]string{"pools.yaml:"},
		},
		{
			"two documents",
			"pools: {}\n---\npools: {}\n",
			[]string{"pools.yaml:2: a second YAML document"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("pools.yaml", []byte(tt.src))
			if err == nil {
				t.Fatalf("Parse succeeded (%+v), want errors %q", c, tt.want)
			}
			if c != nil {
				t.Errorf("Parse returned a config along with the error")
			}
			got := problems(err)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d problems, want %d:\n%v\nwant prefixes:\n%s", len(got), len(tt.want), err, strings.Join(tt.want, "\n"))
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tt.want[i]) {
					t.Errorf("problem %d = %q\nwant prefix  %q", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestAllErrorsReportedTogether(t *testing.T) {
	src := `defaults:
  provider: openai
  lease_ttl: 0s
pools:
  a:
    provider: mistral
    cooldown_max: 5s
    colour: blue
  b:
    base_url: ftp://x
    cooldown_default: later
  "no spaces":
    validator: {kind: biling}
`
	_, err := Parse("pools.yaml", []byte(src))
	want := []string{
		"pools.yaml:3: defaults.lease_ttl: must be between",
		"pools.yaml:6: pools.a.provider: unknown provider",
		"pools.yaml:7: pools.a.cooldown_max: must be at least cooldown_default (1m)",
		"pools.yaml:8: pools.a.colour: field colour not found in type config.Pool",
		"pools.yaml:10: pools.b.base_url:",
		`pools.yaml:11: pools.b.cooldown_default: invalid duration "later"`,
		`pools.yaml:12: pools: invalid pool name "no spaces"`,
		`pools.yaml:13: pools.no spaces.validator.kind: unknown validator kind "biling"`,
	}
	got := problems(err)
	if len(got) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(got), len(want), err)
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("problem %d = %q\nwant prefix  %q", i, got[i], want[i])
		}
	}
}

func TestDefault(t *testing.T) {
	c := Default()
	if names := c.PoolNames(); len(names) != 0 {
		t.Errorf("Default().PoolNames() = %v, want none", names)
	}
	if got := c.Pool("anything"); !got.Equal(builtinOpenAI) {
		t.Errorf("Default().Pool = %+v, want %+v", got, builtinOpenAI)
	}
	// The built-in policy, written out as a file, passes validation.
	for _, p := range failure.Providers() {
		eff := c.Pool("x")
		eff.Provider = p
		if p == failure.OpenAICompatible {
			eff.BaseURL = "https://relay.example.com"
		}
		out, err := yaml.Marshal(&Config{Defaults: eff, Pools: map[string]Pool{"x": eff}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse("default.yaml", out); err != nil {
			t.Errorf("built-in policy for %s does not validate:\n%s\n%v", p, out, err)
		}
	}
	// An empty file means the same as no file.
	if got := mustParse(t, ""); !reflect.DeepEqual(got, Default()) {
		t.Errorf("Parse(empty) = %+v, want Default() %+v", got, Default())
	}
	// The zero Config is usable too.
	var zero Config
	if got := zero.Pool("x"); !got.Equal(builtinOpenAI) {
		t.Errorf("zero Config Pool = %+v, want %+v", got, builtinOpenAI)
	}
}

func TestConfigRoundTrip(t *testing.T) {
	c, err := Load(filepath.Join("testdata", "example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse("marshalled.yaml", out)
	if err != nil {
		t.Fatalf("re-parse:\n%s\n%v", out, err)
	}
	if !reflect.DeepEqual(back, c) {
		t.Errorf("round trip changed the config:\n%s\ngot  %+v\nwant %+v", out, back, c)
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent.yaml")
	_, err := Load(path)
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Errorf("Load(missing) = %v, want a not-exist error naming the file", err)
	}
}

func TestLoadNamesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(path, []byte("defaults:\n  lease_ttl: 0s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if err == nil || !strings.HasPrefix(err.Error(), path+":2: defaults.lease_ttl:") {
		t.Errorf("Load = %v, want an error starting %s:2: defaults.lease_ttl:", err, path)
	}
}

func TestValidPoolName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"a", true},
		{"openai-main", true},
		{"Team_1.prod", true},
		{"0", true},
		{strings.Repeat("x", 64), true},
		{"", false},
		{strings.Repeat("x", 65), false},
		{"-lead", false},
		{".hidden", false},
		{"_x", false},
		{"has space", false},
		{"a:b", false},
		{"a{b}", false},
		{"a/b", false},
		{"a\n", false},
		{"ключ", false},
	}
	re := regexp.MustCompile(PoolNamePattern)
	for _, tt := range tests {
		if got := ValidPoolName(tt.name); got != tt.ok || re.MatchString(tt.name) != tt.ok {
			t.Errorf("ValidPoolName(%q) = %v, pattern %v; want %v", tt.name, got, re.MatchString(tt.name), tt.ok)
		}
	}
	// The loop and the documented pattern agree on every short name over
	// an alphabet of each character class and its neighbours.
	alphabet := []byte("aZ09._-/@[`{:")
	var name []byte
	var walk func(depth int)
	walk = func(depth int) {
		if got, want := ValidPoolName(string(name)), re.Match(name); got != want {
			t.Fatalf("ValidPoolName(%q) = %v, pattern says %v", name, got, want)
		}
		if depth == 3 {
			return
		}
		for _, c := range alphabet {
			name = append(name, c)
			walk(depth + 1)
			name = name[:len(name)-1]
		}
	}
	walk(0)
}

func TestAuditLengthIsBounded(t *testing.T) {
	c := mustParse(t, "pools:\n  big:\n    audit_length: 50000\n")
	if got := c.Pool("big").AuditEntries(); got != 50000 {
		t.Fatalf("audit_length 50000 read as %d", got)
	}
	if got := c.Pool("other").AuditEntries(); got != DefaultAuditLength {
		t.Fatalf("unset audit_length = %d, want %d", got, DefaultAuditLength)
	}
	for _, bad := range []string{"10", "2000000", "-1"} {
		if _, err := Parse("p.yaml", []byte("pools:\n  a:\n    audit_length: "+bad+"\n")); err == nil {
			t.Errorf("audit_length %s accepted", bad)
		}
	}
}
