package store

import (
	"context"
	"fmt"
	"sync"

	"github.com/redis/go-redis/v9"
)

// EvictionPolicy reads Redis's maxmemory-policy (on every master of a
// Cluster) and returns the first that is not "noeviction", or
// "noeviction". keybroker needs noeviction: under an evicting policy a
// full Redis drops whatever it likes, the broker key and the pools'
// indexes included, and the pool silently looks empty. An error means
// CONFIG could not be read (renamed or forbidden on managed Redis).
func EvictionPolicy(ctx context.Context, rdb redis.UniversalClient) (string, error) {
	cc, ok := rdb.(*redis.ClusterClient)
	if !ok {
		return policyOf(ctx, rdb)
	}
	var mu sync.Mutex
	found := "noeviction"
	err := cc.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		p, err := policyOf(ctx, node)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		if p != "noeviction" {
			found = p
		}
		return nil
	})
	return found, err
}

func policyOf(ctx context.Context, c redis.Cmdable) (string, error) {
	v, err := c.ConfigGet(ctx, "maxmemory-policy").Result()
	if err != nil {
		return "", fmt.Errorf("CONFIG GET maxmemory-policy: %w", err)
	}
	p, ok := v["maxmemory-policy"]
	if !ok {
		return "", fmt.Errorf("CONFIG GET maxmemory-policy: no value")
	}
	return p, nil
}
