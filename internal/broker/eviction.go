package broker

import (
	"context"
	"fmt"
)

// checkEviction refuses a Redis that evicts keys when full (unless
// AllowEviction): it would drop the broker key or a pool's indexes and
// keybroker would serve an empty or inconsistent pool. A Redis whose
// CONFIG command is renamed or forbidden (managed services) cannot be
// checked: that is a warning, not a refusal.
func (b *Broker) checkEviction(ctx context.Context) error {
	policy, err := b.conn.EvictionPolicy(ctx)
	switch {
	case err != nil:
		b.log.Warn("cannot read Redis's maxmemory-policy; make sure it is noeviction, or a full Redis may drop the broker key and pool indexes", "err", err)
		return nil
	case policy == "noeviction":
		return nil
	case b.cfg.AllowEviction:
		b.log.Warn("Redis evicts keys when full (maxmemory-policy "+policy+"): it may drop the broker key (every key id and lease changes) "+
			"or a pool's indexes (the pool looks empty); running anyway because --allow-redis-eviction is set", "maxmemory_policy", policy)
		return nil
	}
	return fmt.Errorf("redis maxmemory-policy is %s: when full, Redis would evict the broker key (changing every key id and lease) "+
		"or a pool's indexes (the pool would look empty). Set maxmemory-policy noeviction (writes then fail cleanly), "+
		"or pass --allow-redis-eviction to run anyway", policy)
}
