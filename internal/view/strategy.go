package view

import "github.com/keybroker/keybroker/internal/config"

// followPolicies gives every pool the selection its policy names now, so
// that a policy file reloaded while the broker runs changes strategies
// within a flush interval.
func (v *View) followPolicies() {
	for _, p := range v.all() {
		p.setStrategy(v.policies.Pool(p.name).Selection)
	}
}

// setStrategy switches the pool's selection, building the weight tree
// when it becomes weighted and dropping it when it stops being.
func (p *pool) setStrategy(s config.Selection) {
	p.mu.RLock()
	same := p.strategy == s
	p.mu.RUnlock()
	if same {
		return
	}
	p.wmu.Lock()
	defer p.wmu.Unlock()
	var tree fenwick
	if s == config.Weighted {
		tree.t = make([]int64, 0, len(p.ents))
		for _, e := range p.ents {
			tree.push(int64(e.weight))
		}
	}
	p.mu.Lock()
	p.strategy, p.tree = s, tree
	p.mu.Unlock()
}
