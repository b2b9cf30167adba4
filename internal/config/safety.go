package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Allowance is how many keys a pool's removal brake lets the worker
// quarantine per window: a count ("3") or a share of the pool ("10%",
// rounded down, at least 1). The zero Allowance means "not set here".
type Allowance struct {
	Count   int
	Percent float64
	written bool // set by the decoder, so a written 0 is an error, not "unset"
}

// String writes the allowance the way it is configured.
func (a Allowance) String() string {
	if a.Percent != 0 || a.Count == 0 && a.written {
		return strconv.FormatFloat(a.Percent, 'f', -1, 64) + "%"
	}
	return strconv.Itoa(a.Count)
}

// Of is the allowance for a pool of total keys.
func (a Allowance) Of(total int) int {
	if a.Percent > 0 {
		return max(1, int(float64(total)*a.Percent/100))
	}
	return a.Count
}

// IsZero reports whether the allowance is unset, for omitempty and
// layering.
func (a Allowance) IsZero() bool { return a == Allowance{} }

// UnmarshalYAML reads a count or a percentage. A value that is neither is
// a *yaml.TypeError with its line, like other bad values.
func (a *Allowance) UnmarshalYAML(n *yaml.Node) error {
	bad := &yaml.TypeError{Errors: []string{
		fmt.Sprintf("line %d: invalid value %q: want a count such as 3 or a share of the pool such as \"10%%\"", n.Line, n.Value),
	}}
	if n.Kind != yaml.ScalarNode {
		return bad
	}
	if p, ok := strings.CutSuffix(strings.TrimSpace(n.Value), "%"); ok {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil {
			return bad
		}
		*a = Allowance{Percent: v, written: v == 0}
		return nil
	}
	v, err := strconv.Atoi(n.Value)
	if err != nil {
		return bad
	}
	*a = Allowance{Count: v, written: v == 0}
	return nil
}

// MarshalYAML writes a count as a number and a share as "N%".
func (a Allowance) MarshalYAML() (any, error) {
	if a.Percent != 0 {
		return a.String(), nil
	}
	return a.Count, nil
}

// The built-in defaults of the key-safety policy (docs/design.md, "Key
// lifecycle").
const (
	defaultConfirmDelay        = Duration(30 * time.Second)
	defaultRemovalWindow       = Duration(10 * time.Minute)
	defaultQuarantineRetention = Duration(7 * 24 * time.Hour)
	defaultSuspectTimeout      = Duration(10 * time.Minute)
	defaultMinActive           = 1
)

var defaultMaxRemovals = Allowance{Percent: 10}

// Bounds of the key-safety policy.
const (
	minSafetyDuration = Duration(time.Second)
	maxConfirmDelay   = Duration(24 * time.Hour)
	minRetention      = Duration(time.Minute)
	maxMinActive      = 1_000_000
)

// builtinSafety fills the key-safety fields of the built-in layer.
func builtinSafety(p *Pool) {
	p.ConfirmDelay = defaultConfirmDelay
	p.MaxRemovals = defaultMaxRemovals
	p.RemovalWindow = defaultRemovalWindow
	p.QuarantineRetention = defaultQuarantineRetention
	p.SuspectTimeout = defaultSuspectTimeout
	p.MinActive = defaultMinActive
}

// mergeSafety layers the key-safety fields of over on top of under.
func mergeSafety(over *Pool, under Pool) {
	pick(&over.ConfirmDelay, under.ConfirmDelay)
	pick(&over.MaxRemovals, under.MaxRemovals)
	pick(&over.RemovalWindow, under.RemovalWindow)
	pick(&over.QuarantineRetention, under.QuarantineRetention)
	pick(&over.SuspectTimeout, under.SuspectTimeout)
	pick(&over.MinActive, under.MinActive)
}

// checkSafety checks one layer's key-safety fields, written at node n.
func checkSafety(r *report, path string, n *yaml.Node, p Pool) {
	check := func(key string, set, ok bool, format string, args ...any) {
		node := field(n, key)
		if (node != nil || set) && !ok {
			r.at(firstNode(node, n), path+"."+key, format, args...)
		}
	}
	check("confirm_delay", p.ConfirmDelay != 0, p.ConfirmDelay >= minSafetyDuration && p.ConfirmDelay <= maxConfirmDelay,
		"must be between %s and %s, got %s", minSafetyDuration, maxConfirmDelay, p.ConfirmDelay)
	a := p.MaxRemovals
	check("max_removals", !a.IsZero(), a.Count >= 1 || a.Percent > 0 && a.Percent <= 100,
		"must be a count of at least 1 or a share above 0%% and at most 100%%, got %s", a)
	check("removal_window", p.RemovalWindow != 0, p.RemovalWindow >= minSafetyDuration,
		"must be at least %s, got %s", minSafetyDuration, p.RemovalWindow)
	check("quarantine_retention", p.QuarantineRetention != 0, p.QuarantineRetention >= minRetention,
		"must be at least %s, got %s", minRetention, p.QuarantineRetention)
	check("suspect_timeout", p.SuspectTimeout != 0, p.SuspectTimeout >= minSafetyDuration,
		"must be at least %s, got %s", minSafetyDuration, p.SuspectTimeout)
	check("min_active", p.MinActive != 0, p.MinActive >= 1 && p.MinActive <= maxMinActive,
		"must be between 1 and %d, got %d", maxMinActive, p.MinActive)
}
