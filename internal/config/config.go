// Package config holds keybroker's pool policy file, the one given by
// `keybroker serve --config FILE`.
//
// The file says, per pool, which provider the keys belong to, where that
// provider lives and how long keys are parked or leased. Pools need not be
// declared: a pool the file does not mention gets the file's defaults, and
// whatever those leave out comes from built-in defaults. A declared pool is
// layered the same way, field by field, over the defaults:
//
//	defaults:
//	  cooldown_max: 30m
//	pools:
//	  relay:
//	    provider: openai-compatible
//	    base_url: https://relay.example.com
//
// The file is checked completely when it is loaded: unknown fields,
// duplicate keys, bad names and bad values are all errors, every one named
// by file, line and field path, and all of them are reported at once, so a
// broker never starts on a policy it would misread. testdata/example.yaml is
// a documented example.
package config

import (
	"maps"
	"slices"
)

// Config is the whole policy file. It keeps the layers as written; Pool
// computes the effective policy of a pool from them.
type Config struct {
	// Defaults overrides the built-in defaults for every pool, declared or
	// not.
	Defaults Pool `yaml:"defaults,omitempty"`

	// Pools holds the declared pools' policies by pool name, each layered
	// over Defaults field by field.
	Pools map[string]Pool `yaml:"pools,omitempty"`
}

// Default returns the configuration used when no file is given: no
// declared pools, and the built-in defaults for every pool.
func Default() *Config {
	return &Config{Pools: map[string]Pool{}}
}

// Pool returns the effective policy for the pool called name: the declared
// pool layered over Defaults over the built-ins, or Defaults over the
// built-ins for a pool the file does not declare. Every field of the result
// is set, except Validator.Kind ("" means none) and Validator.Model (no
// probe model: the cheaper probe).
func (c *Config) Pool(name string) Pool {
	return resolve(c.Pools[name], c.Defaults)
}

// PoolNames returns the declared pool names, sorted, so callers that list or
// pre-create pools do so in a stable order.
func (c *Config) PoolNames() []string {
	return slices.Sorted(maps.Keys(c.Pools))
}

// PoolNamePattern is the rule every pool name follows: 1 to 64 characters
// of [A-Za-z0-9._-], starting with a letter or digit. It is exported so the
// server checks request pool names by the same rule the file is held to.
const PoolNamePattern = `^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`

// ValidPoolName reports whether name matches PoolNamePattern. Names end up
// in Redis keys and logs, so the set of characters is kept small. It is a
// loop rather than the regexp because every GetRandom checks its pool.
func ValidPoolName(name string) bool {
	if len(name) == 0 || len(name) > 64 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '.' && c != '_' && c != '-') {
			return false
		}
	}
	return true
}
