package config

import (
	"fmt"
	"strings"
)

// Selection is how GetRandom chooses among a pool's active keys.
type Selection string

// The selection strategies. Each picks in O(1) or O(log n) whatever the
// pool's size, from the broker's in-memory view of the pool.
const (
	// Random picks uniformly at random: the default.
	Random Selection = "random"
	// RoundRobin hands the keys out in turn (an atomic counter over the
	// view's positions), so every key is used equally within a cycle.
	RoundRobin Selection = "round_robin"
	// Weighted picks at random in proportion to each key's weight (Add's
	// weights, default 1), for keys of different tiers.
	Weighted Selection = "weighted"
	// LeastUsed prefers the key with the fewest leases in the current
	// window (the better of two random keys, which is O(1) and keeps every
	// key within a few leases of the others).
	LeastUsed Selection = "least_used"
)

// Selections lists every strategy, the default first.
func Selections() []Selection {
	return []Selection{Random, RoundRobin, Weighted, LeastUsed}
}

// ParseSelection checks a strategy name.
func ParseSelection(s string) (Selection, error) {
	for _, sel := range Selections() {
		if string(sel) == s {
			return sel, nil
		}
	}
	names := make([]string, 0, len(Selections()))
	for _, sel := range Selections() {
		names = append(names, string(sel))
	}
	return "", fmt.Errorf("unknown selection %q (want %s)", s, strings.Join(names, ", "))
}
