package store

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keybroker/keybroker/internal/seal"
	"github.com/keybroker/keybroker/internal/secret"
)

// Conn is an open connection to Redis (a single node, Sentinel or a
// Cluster, as RedisConfig says). It is the only way into Redis from
// outside this package: the broker key and the Stores of a process share
// it, and closing it closes them. Safe for concurrent use.
type Conn struct {
	rdb redis.UniversalClient
}

// Open connects to Redis as cfg says and checks that it answers (with
// cfg.Wait, until it does or ctx ends). The Conn owns the client; Close
// releases it.
func Open(ctx context.Context, cfg RedisConfig) (*Conn, error) {
	rdb, err := connect(cfg)
	if err != nil {
		return nil, err
	}
	c := &Conn{rdb: rdb}
	if err := c.waitReady(ctx, cfg); err != nil {
		_ = rdb.Close()
		return nil, err
	}
	return c, nil
}

// waitReady pings until Redis answers; once only unless cfg.Wait.
func (c *Conn) waitReady(ctx context.Context, cfg RedisConfig) error {
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for attempt := 1; ; attempt++ {
		err := c.Ping(ctx)
		if err == nil || !cfg.Wait {
			return err
		}
		log.Warn("waiting for redis", "attempt", attempt, "err", err)
		t := time.NewTimer(min(time.Duration(attempt)*500*time.Millisecond, 5*time.Second))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("stopped while waiting for redis: %w", err)
		case <-t.C:
		}
	}
}

// Ping checks that Redis answers.
func (c *Conn) Ping(ctx context.Context) error {
	if err := c.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("ping redis: %w", err)
	}
	return nil
}

// BrokerKey loads (creating it once) the deployment's broker key; see
// LoadBrokerKey.
func (c *Conn) BrokerKey(ctx context.Context, ring *seal.Keyring, opts ...BrokerKeyOption) ([]byte, error) {
	return LoadBrokerKey(ctx, c.rdb, ring, opts...)
}

// EvictionPolicy reads Redis's maxmemory-policy; see EvictionPolicy.
func (c *Conn) EvictionPolicy(ctx context.Context) (string, error) {
	return EvictionPolicy(ctx, c.rdb)
}

// Store returns a Store over this connection that derives key ids with
// ids. Closing the Conn closes it.
func (c *Conn) Store(ids *secret.IDs, opts ...Option) *Store {
	return New(c.rdb, ids, opts...)
}

// Close releases the connection; Stores over it fail from then on.
func (c *Conn) Close() error {
	return c.rdb.Close()
}
