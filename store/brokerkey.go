package store

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// BrokerKeyLen is the length of the broker key in bytes.
const BrokerKeyLen = 32

// LoadBrokerKey returns the key that key ids and lease ids derive from, creating
// it once (SET NX) so that every replica of a deployment agrees without
// configuration. Whoever can read Redis can read it; a later release takes
// it from a file instead.
func LoadBrokerKey(ctx context.Context, rdb redis.UniversalClient) ([]byte, error) {
	fresh := make([]byte, BrokerKeyLen)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("generate broker key: %w", err)
	}
	if err := rdb.SetNX(ctx, brokerKeyKey, fresh, 0).Err(); err != nil {
		return nil, fmt.Errorf("store broker key: %w", err)
	}
	key, err := rdb.Get(ctx, brokerKeyKey).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("broker key vanished after SET NX")
	}
	if err != nil {
		return nil, fmt.Errorf("read broker key: %w", err)
	}
	if len(key) != BrokerKeyLen {
		return nil, fmt.Errorf("broker key in %s is %d bytes, want %d", brokerKeyKey, len(key), BrokerKeyLen)
	}
	return key, nil
}
