package view

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/keybroker/keybroker/internal/config"
	"github.com/keybroker/keybroker/internal/store"
)

// The tree agrees with a plain slice of weights through random pushes,
// changes and pops, and find lands every point of [0, total) on the
// position whose range holds it.
func TestFenwickMatchesBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var f fenwick
	var w []int64
	for step := range 5000 {
		switch op := r.IntN(4); {
		case op < 2 || len(w) == 0:
			x := int64(1 + r.IntN(9))
			f.push(x)
			w = append(w, x)
		case op == 2:
			i, x := r.IntN(len(w)), int64(1+r.IntN(9))
			f.add(i, x-w[i])
			w[i] = x
		default:
			f.pop(w[len(w)-1])
			w = w[:len(w)-1]
		}
		var sum int64
		for i, x := range w {
			sum += x
			if got := f.prefix(i + 1); got != sum {
				t.Fatalf("step %d: prefix(%d) = %d, want %d", step, i+1, got, sum)
			}
		}
		if f.total != sum {
			t.Fatalf("step %d: total %d, want %d", step, f.total, sum)
		}
		if sum > 0 {
			point := r.Int64N(sum)
			var acc int64
			want := 0
			for acc+w[want] <= point {
				acc += w[want]
				want++
			}
			if got := f.find(point); got != want {
				t.Fatalf("step %d: find(%d) = %d, want %d (weights %v)", step, point, got, want, w)
			}
		}
	}
}

func testKey(i int) store.Current {
	return store.Current{
		ID:     fmt.Sprintf("%016x", i),
		State:  store.Active,
		Secret: fmt.Sprintf("sk-pool-%d-%s", i, "abcdefghijklmnopqrstuvwxyz"[:i%26]),
		Weight: uint32(1 + i%5),
	}
}

// checkPool verifies that the index, entries, arena and tree describe
// exactly the keys in want.
func checkPool(t *testing.T, p *pool, want map[string]store.Current) {
	t.Helper()
	if len(p.ents) != len(want) || len(p.index) != len(want) || len(p.ctrs) != len(want) {
		t.Fatalf("%d entries, %d indexed, %d counters; want %d", len(p.ents), len(p.index), len(p.ctrs), len(want))
	}
	var total int64
	for i := range p.ents {
		got := p.picked(i)
		c, ok := want[got.KeyID]
		if !ok || got.Secret != c.Secret || p.ents[i].weight != c.Weight {
			t.Fatalf("position %d holds %s/%q weight %d, want %+v", i, got.KeyID, got.Secret, p.ents[i].weight, c)
		}
		if j := p.index[p.keyAt(i)]; int(j) != i {
			t.Fatalf("index sends %s to %d, it is at %d", got.KeyID, j, i)
		}
		total += int64(c.Weight)
	}
	if p.strategy == config.Weighted && p.tree.total != total {
		t.Fatalf("tree total %d, want %d", p.tree.total, total)
	}
}

// Keys come and go through apply; the structure stays consistent, the
// arena is compacted once mostly garbage, and strings handed out before
// a compaction keep their values.
func TestPoolApplyRemoveAndCompact(t *testing.T) {
	defer func(old int) { compactMin = old }(compactMin)
	compactMin = 4096
	p := newPool("p", config.Weighted)
	r := rand.New(rand.NewPCG(3, 4))
	want := map[string]store.Current{}
	held := map[string]string{} // key id → secret, as handed out by picks
	compactions := 0
	for step := range 20000 {
		c := testKey(r.IntN(3000))
		if r.IntN(3) == 0 {
			c.State = store.CoolingDown
		}
		p.wmu.Lock()
		p.mu.Lock()
		before := len(p.arena)
		p.apply(c)
		p.mu.Unlock()
		p.maybeCompact()
		if len(p.arena) < before {
			compactions++
		}
		p.wmu.Unlock()
		if c.State == store.Active {
			want[c.ID] = c
		} else {
			delete(want, c.ID)
		}
		if len(p.ents) > 0 && step%7 == 0 {
			got := p.picked(r.IntN(len(p.ents)))
			held[got.KeyID] = got.Secret
		}
	}
	checkPool(t, p, want)
	if compactions == 0 {
		t.Fatalf("no compaction in 20000 changes (dead %d of %d arena bytes)", p.dead, len(p.arena))
	}
	for id, sec := range held {
		var i int
		if _, err := fmt.Sscanf(id, "%x", &i); err != nil || sec != testKey(i).Secret {
			t.Fatalf("a secret handed out before a compaction changed: %s → %q", id, sec)
		}
	}
}

// forget (Refresh's fallback) removes at once and, during a resync, keeps
// older pages from bringing the key back; the sweep drops what the resync
// did not see.
func TestForgetWinsOverAnOlderPage(t *testing.T) {
	p := newPool("p", config.Random)
	a, b, c := testKey(1), testKey(2), testKey(3)
	p.applyPage([]store.Current{a, b, c})
	p.wmu.Lock()
	p.gen++
	p.syncing, p.touched = true, map[keyID]struct{}{}
	p.wmu.Unlock()
	p.forget([]string{a.ID})
	if missing := p.applyPage([]store.Current{a, b}); len(missing) != 0 {
		t.Fatalf("page asked for secrets of %v", missing)
	}
	p.sweep()
	checkPool(t, p, map[string]store.Current{b.ID: b})
}
