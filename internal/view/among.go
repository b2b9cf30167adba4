package view

import "github.com/keybroker/keybroker/internal/store"

// PickAmong leases the first key of pool, from a random position on, that
// accept takes, counting the lease; ok is false when the view does not
// hold the pool or accept took none. accept runs under the pool's read
// lock and must be quick. It is GetRandom's fallback with budgets: when
// the pool's strategy keeps choosing keys that have no budget left, the
// keys that do are found in one pass, O(n) but only then.
func (v *View) PickAmong(pool string, accept func(keyID string) bool) (store.Picked, bool) {
	p := v.lookup(pool)
	if p == nil || !p.ready.Load() {
		return store.Picked{}, false
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	n := uint64(len(p.ents))
	if n == 0 {
		return store.Picked{}, false
	}
	start := v.randN(n)
	for j := range n {
		i := int((start + j) % n)
		picked := p.picked(i)
		if !accept(picked.KeyID) {
			continue
		}
		c := &p.ctrs[i]
		c.leases.Add(1)
		c.lastUsed.Store(v.now().UnixMilli())
		return picked, true
	}
	return store.Picked{}, false
}
