package store

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// PlainSet is a Redis set of secrets read with one SRANDMEMBER per call:
// the seed design's whole selection (no states, no lease counts, no
// wake-ups). No broker uses it; `keybroker bench` serves it as the
// reference GetRandom is measured against, and keeping its Redis access
// here keeps go-redis inside this package.
type PlainSet struct {
	c   *Conn
	key string
}

// PlainSet returns the plain set stored at key.
func (c *Conn) PlainSet(key string) *PlainSet { return &PlainSet{c: c, key: key} }

// Reset replaces the set's members with members.
func (p *PlainSet) Reset(ctx context.Context, members []string) error {
	args := make([]any, len(members))
	for i, m := range members {
		args[i] = m
	}
	_, err := p.c.rdb.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		pipe.Del(ctx, p.key)
		pipe.SAdd(ctx, p.key, args...)
		return nil
	})
	if err != nil {
		return fmt.Errorf("reset plain set %q: %w", p.key, err)
	}
	return nil
}

// Random returns one member at random, as the seed design's GetRandom did.
func (p *PlainSet) Random(ctx context.Context) (string, error) {
	m, err := p.c.rdb.SRandMember(ctx, p.key).Result()
	if err != nil {
		return "", fmt.Errorf("srandmember %q: %w", p.key, err)
	}
	return m, nil
}
