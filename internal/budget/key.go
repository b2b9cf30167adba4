package budget

import (
	"math"
	"sync"
)

// key is one key's budget as this replica holds it: the limits, and the
// slice of the current window's shared budget it has claimed and not yet
// spent. Every method takes mu; the critical sections are a few
// comparisons long.
type key struct {
	mu     sync.Mutex
	limit  Limit
	source Source

	win        int64 // window the slice belongs to
	reqs, toks int64 // left of this replica's slice of win
	spent      int64 // window in which the shared count has nothing left: no more claims
	outUntil   int64 // unix ms: the provider said nothing is left until then

	next         int64 // window of the slice claimed ahead; none: none
	nreqs, ntoks int64

	tookR, tookT int64 // taken since the last plan
	rateR, rateT int64 // taken per plan, decaying: what a claim should cover
	lastCost     int64 // tokens per call the latest lease asked for
	seen         int64 // last window a lease was taken in
}

// none marks a window field that holds no window.
const none = math.MinInt64

func newKey(l Limit, s Source) *key {
	return &key{limit: l, source: s, win: none, spent: none, next: none, seen: none}
}

// roll moves the key to window win: a slice claimed ahead for it becomes
// the current one; an older slice is dropped. Callers hold mu.
func (k *key) roll(win int64) {
	if k.win == win {
		return
	}
	k.reqs, k.toks = 0, 0
	if k.next == win {
		k.reqs, k.toks = k.nreqs, k.ntoks
	}
	if k.next <= win {
		k.next, k.nreqs, k.ntoks = none, 0, 0
	}
	k.win = win
}

// take spends c from the slice of window win, at time nowMs. It returns
// how many uses were granted (at most c.Uses, at least 1) and whether any
// was. A key without limits grants everything.
//
// A lease granted within guardMs of the window's end (endMs) may reach the
// provider after the next window has begun, so it is charged to both
// windows: it needs the slice claimed ahead for the next window too. This
// keeps calls in flight across a boundary from pushing the provider's next
// window past its limit, at the price of counting those few calls twice.
func (k *key) take(nowMs, win, endMs, guardMs int64, c Cost) (int64, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.limit.Limited() {
		return c.Uses, true
	}
	k.lastCost = c.Tokens
	if nowMs < k.outUntil {
		return 0, false
	}
	k.roll(win)
	straddle := endMs-nowMs <= guardMs
	if straddle && k.next != win+1 {
		return 0, false
	}
	uses := k.fit(c, k.reqs, k.toks)
	if straddle {
		uses = min(uses, k.fit(c, k.nreqs, k.ntoks))
	}
	if uses < 1 {
		return 0, false
	}
	k.reqs, k.toks = k.spend(uses, c, k.reqs, k.toks)
	if straddle {
		k.nreqs, k.ntoks = k.spend(uses, c, k.nreqs, k.ntoks)
	}
	k.tookR += uses
	k.tookT += uses * c.Tokens
	k.seen = win
	return uses, true
}

// fit is how many uses of c a slice of reqs calls and toks tokens holds.
func (k *key) fit(c Cost, reqs, toks int64) int64 {
	uses := c.Uses
	if k.limit.Reqs > 0 {
		uses = min(uses, reqs)
	}
	if k.limit.Toks > 0 {
		if c.Tokens > 0 {
			uses = min(uses, toks/c.Tokens)
		} else if toks <= 0 {
			uses = 0
		}
	}
	return uses
}

// spend takes uses of c from a slice.
func (k *key) spend(uses int64, c Cost, reqs, toks int64) (int64, int64) {
	if k.limit.Reqs > 0 {
		reqs -= uses
	}
	if k.limit.Toks > 0 {
		toks -= uses * c.Tokens
	}
	return reqs, toks
}

// want is how much a claim asks: enough for cover ticks at the rate
// leases were taken since the last plan (at least minReqs calls), less
// what is left. tookR and tookT are that rate.
func (k *key) want(tookR, tookT, haveR, haveT, cover, minReqs int64) (reqs, toks int64) {
	if k.limit.Reqs > 0 {
		target := min(max(cover*tookR, minReqs), k.limit.Reqs)
		reqs = max(target-haveR, 0)
	}
	if k.limit.Toks > 0 {
		// Tokens per call: what the latest lease asked for, else the
		// limits' ratio; the slice covers as many calls as the requests.
		perCall := k.lastCost
		if perCall <= 0 {
			perCall = max(k.limit.Toks/max(k.limit.Reqs, 1), 1)
		}
		target := min(max(cover*tookT, cover*tookR*perCall, minReqs*perCall, 1), k.limit.Toks)
		toks = max(target-haveT, 0)
	}
	return reqs, toks
}

// Slice sizes, in ticks of the key's recent rate: a slice covers the
// claims that may come late, not more, since what a replica holds when the
// window ends is lost to every replica. Near the end of a window the
// slice of that window covers only the ticks left, and at least one call
// instead of two.
const (
	coverTicks = 6
	minSlice   = 2
)

// cover is how many ticks, and at least how many calls, a slice of the
// current window should hold with ticksLeft ticks to its end.
func cover(ticksLeft int64) (ticks, least int64) {
	ticks = min(max(ticksLeft, 1), coverTicks)
	if ticks < 3 {
		return ticks, 1
	}
	return ticks, minSlice
}

// ask is one claim the replica sends: for key id, in window win.
type ask struct {
	k          *key
	id         string
	win        int64
	reqs, toks int64
}

// instant is when a plan is made: now (unix ms) in window win of length
// window ms, which ends at end, with claims every tick ms.
type instant struct {
	now, win, end, tick, window int64
}

// pace is twice the rate per tick that would spend limit evenly over a
// window: the most a replica's claims go by. Leases that take many uses
// at once (a client reusing its lease asks for 32) would otherwise make
// the rate look like a whole window's budget, and the replica would
// claim it, leaving the others none while it holds more than it can use.
func (at instant) pace(limit int64) int64 {
	return max((2*limit*at.tick+at.window-1)/at.window, 1)
}

// plan says what to claim for this key at instant at: more of the current
// window when the slice runs low, and the first slice of the next window
// four ticks before it starts, for keys in use. force asks even for keys
// not used lately (a lease found no budget). Callers append the asks to
// one claim.
func (k *key) plan(id string, at instant, force bool, out []ask) []ask {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.limit.Limited() {
		return out
	}
	k.roll(at.win)
	// The rate is taken per tick: only the periodic plan updates it
	// (decaying by a quarter unless leases keep it up); a plan forced
	// between ticks claims by it without wearing it down.
	tookR, tookT := max(k.rateR, k.tookR), max(k.rateT, k.tookT)
	if !force {
		k.rateR = max(k.tookR, k.rateR-k.rateR/4)
		k.rateT = max(k.tookT, k.rateT-k.rateT/4)
		tookR, tookT = k.rateR, k.rateT
		k.tookR, k.tookT = 0, 0
	}
	if k.limit.Reqs > 0 {
		tookR = min(tookR, at.pace(k.limit.Reqs))
	}
	if k.limit.Toks > 0 {
		tookT = min(tookT, at.pace(k.limit.Toks))
	}
	busy := k.seen != none && k.seen >= at.win-1
	if !busy && !force {
		return out
	}
	if k.spent != at.win && at.now >= k.outUntil {
		ticks, least := cover((at.end - at.now + at.tick - 1) / at.tick)
		if r, t := k.want(tookR, tookT, k.reqs, k.toks, ticks, least); r > 0 || t > 0 {
			out = append(out, ask{k: k, id: id, win: at.win, reqs: r, toks: t})
		}
	}
	// The next window's first slice, shortly before it starts (leases in
	// the last moments of this window take from it too), topped up as
	// it runs low.
	if (busy || force) && at.end-at.now <= 4*at.tick && k.spent != at.win+1 {
		haveR, haveT := int64(0), int64(0)
		if k.next == at.win+1 {
			haveR, haveT = k.nreqs, k.ntoks
		}
		if r, t := k.want(tookR, tookT, haveR, haveT, coverTicks, minSlice); r > 0 || t > 0 {
			out = append(out, ask{k: k, id: id, win: at.win + 1, reqs: r, toks: t})
		}
	}
	return out
}

// grant adds what a claim got to the slice of its window, and notes a
// window whose shared count has nothing left.
func (k *key) grant(a ask, gotR, gotT, usedR, usedT int64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	spent := (k.limit.Reqs > 0 && usedR >= k.limit.Reqs) || (k.limit.Toks > 0 && usedT >= k.limit.Toks) ||
		(gotR == 0 && gotT == 0)
	switch {
	case a.win == k.win || k.win == none:
		k.win = a.win
		k.reqs += gotR
		k.toks += gotT
		if spent {
			k.spent = a.win
		}
	case a.win > k.win:
		if k.next != a.win {
			k.next, k.nreqs, k.ntoks = a.win, 0, 0
		}
		k.nreqs += gotR
		k.ntoks += gotT
		if spent {
			k.spent = a.win
		}
	}
	// A slice for a window already past is lost: the replicas never
	// admit it, which errs on the provider's side.
}

// setLimit changes the key's limits. A lower limit takes effect at the
// next claim; what is claimed stays claimed.
func (k *key) setLimit(l Limit, s Source) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.limit, k.source = l, s
}

// exhaust marks the key as having nothing left until untilMs, as the
// provider said.
func (k *key) exhaust(untilMs int64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.outUntil = max(k.outUntil, untilMs)
	// The slice is kept: take refuses until then anyway, and a report
	// that arrives after the window turned must not throw away the new
	// window's slice.
}

// backAt is when the key may have budget again, in unix ms, seen from
// window win ending at endMs: the later of the window's end and the
// provider's word when the shared count is spent, else now plus soon
// (the next claim). ok is false for a key without limits.
func (k *key) backAt(nowMs, win, endMs, soonMs int64) (int64, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.limit.Limited() {
		return 0, false
	}
	k.roll(win)
	at := nowMs
	switch {
	case k.spent == win:
		at = endMs
	case (k.limit.Reqs > 0 && k.reqs == 0) || (k.limit.Toks > 0 && k.toks == 0):
		at = nowMs + soonMs
	}
	return max(at, k.outUntil), true
}

// spentNow reports whether the key can get no budget before its window
// ends or the provider's reset: its shared count is spent, or the
// provider said so.
func (k *key) spentNow(nowMs, win int64) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.limit.Limited() && (k.spent == win || nowMs < k.outUntil)
}
