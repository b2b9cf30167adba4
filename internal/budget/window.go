// Package budget keeps each key's provider rate-limit budget, so that
// GetRandom leases only keys that can take the call now and refuses the
// rest with a time to come back, instead of letting the provider answer
// 429.
//
// A budget is counted in fixed windows aligned to the Unix epoch (window
// n covers [n·w, (n+1)·w)). The shared count of each key's window lives in
// Redis; each broker replica claims slices of it in the background and
// spends them from memory, so a lease costs a map lookup and a short
// critical section, never a round trip. Claims are atomic against the
// limit, so the replicas together never admit more than a window's limit;
// what a replica holds unspent when its window ends is lost, not
// re-admitted. The provider's own rate-limit headers, sent back by
// callers, set floors under the shared count and teach limits that the
// pool policy does not declare.
package budget

import "time"

// WindowOf returns the number of the window of length w that t falls in.
func WindowOf(t time.Time, w time.Duration) int64 {
	return windowOfMs(t.UnixMilli(), w.Milliseconds())
}

// WindowEnd returns when window n of length w ends (the next one starts).
func WindowEnd(n int64, w time.Duration) time.Time {
	return time.UnixMilli((n + 1) * w.Milliseconds())
}

func windowOfMs(ms, w int64) int64 {
	if ms < 0 {
		return (ms+1)/w - 1
	}
	return ms / w
}

// Limit is a key's budget per window; 0 means not limited in that
// dimension.
type Limit struct {
	Reqs, Toks int64
}

// Limited reports whether l limits anything.
func (l Limit) Limited() bool { return l.Reqs > 0 || l.Toks > 0 }

// Source says where a key's limits come from.
type Source uint8

// The sources of limits, by precedence: a key's own tier, the pool's
// policy, what the provider's headers taught.
const (
	SourceNone Source = iota
	SourceKey
	SourcePool
	SourceLearned
)

// String is the source as GetAll shows it.
func (s Source) String() string {
	switch s {
	case SourceKey:
		return "key"
	case SourcePool:
		return "pool"
	case SourceLearned:
		return "learned"
	}
	return ""
}

// Cost is what one lease takes from a key's budget: Uses calls (at least
// one; a lease a client reuses asks for more) of Tokens each.
type Cost struct {
	Uses   int64
	Tokens int64
}
