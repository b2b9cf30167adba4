package store

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/keybroker/keybroker/internal/seal"
)

// BrokerKeyLen is the length of the broker key in bytes.
const BrokerKeyLen = 32

// brokerKeyAAD binds the sealed broker key to its purpose.
var brokerKeyAAD = []byte("keybroker/broker-key")

// casScript replaces a string only if it still holds the value we read, so
// concurrent starts of several replicas cannot overwrite each other.
var casScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2])
  return 1
end
return 0`)

// BrokerKeyOption adjusts LoadBrokerKey.
type BrokerKeyOption func(*brokerKeyOptions)

type brokerKeyOptions struct{ sealPlaintext bool }

// SealPlaintextBrokerKey lets LoadBrokerKey accept a broker key stored in
// plain text although a keyring is given, and seal it: the one-time
// migration of a deployment that turns encryption on (`keybroker rekey
// --seal-plaintext`). Without it a plaintext broker key is refused, since
// anyone who can write to Redis could otherwise plant one they know.
func SealPlaintextBrokerKey() BrokerKeyOption {
	return func(o *brokerKeyOptions) { o.sealPlaintext = true }
}

// ErrPlaintextBrokerKey is returned for a broker key stored in plain text
// while a keyring is given.
var ErrPlaintextBrokerKey = errors.New("the broker key in Redis is not encrypted although encryption is on; refused. " +
	"If this Redis was used before encryption was turned on, run `keybroker rekey --seal-plaintext` once; " +
	"otherwise someone wrote it there")

// LoadBrokerKey returns the key that key ids and lease ids derive from,
// creating it once (SET NX) so every replica of a deployment agrees without
// configuration. With a keyring the broker key is stored sealed, so Redis
// access alone neither reveals it nor lets anyone confirm a guessed secret
// from its key id; an older-key broker key is resealed with the primary in
// place, a plaintext one only with SealPlaintextBrokerKey. Redis holding a
// key that ring cannot open (or any sealed key when ring is nil) is an
// error, and nothing is written.
func LoadBrokerKey(ctx context.Context, rdb redis.UniversalClient, ring *seal.Keyring, opts ...BrokerKeyOption) ([]byte, error) {
	var o brokerKeyOptions
	for _, opt := range opts {
		opt(&o)
	}
	fresh := make([]byte, BrokerKeyLen)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("generate broker key: %w", err)
	}
	encoded, err := encodeBrokerKey(fresh, ring)
	if err != nil {
		return nil, err
	}
	if err := rdb.SetNX(ctx, brokerKeyKey, encoded, 0).Err(); err != nil {
		return nil, fmt.Errorf("store broker key: %w", err)
	}
	stored, err := rdb.Get(ctx, brokerKeyKey).Result()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("broker key vanished after SET NX")
	}
	if err != nil {
		return nil, fmt.Errorf("read broker key: %w", err)
	}
	if ring != nil && !seal.IsSealed(stored) && !o.sealPlaintext {
		return nil, ErrPlaintextBrokerKey
	}
	key, err := decodeBrokerKey(stored, ring)
	if err != nil {
		return nil, err
	}
	if ring != nil && seal.KeyID(stored) != ring.Primary() {
		if err := resealBrokerKey(ctx, rdb, stored, key, ring); err != nil {
			return nil, err
		}
	}
	return key, nil
}

func encodeBrokerKey(key []byte, ring *seal.Keyring) (string, error) {
	if ring == nil {
		return "plain " + base64.RawStdEncoding.EncodeToString(key), nil
	}
	sealed, err := ring.Seal(brokerKeyAAD, key)
	if err != nil {
		return "", fmt.Errorf("seal broker key: %w", err)
	}
	return sealed, nil
}

func decodeBrokerKey(stored string, ring *seal.Keyring) ([]byte, error) {
	var key []byte
	switch {
	case strings.HasPrefix(stored, "plain "):
		var err error
		if key, err = base64.RawStdEncoding.DecodeString(strings.TrimPrefix(stored, "plain ")); err != nil {
			return nil, fmt.Errorf("broker key in %s is malformed", brokerKeyKey)
		}
	case !seal.IsSealed(stored):
		return nil, fmt.Errorf("broker key in %s is malformed (is this Redis used by something else?)", brokerKeyKey)
	case ring == nil:
		return nil, fmt.Errorf("this Redis holds encrypted keybroker data (data key %q): start with the same --encryption-key-file", seal.KeyID(stored))
	default:
		var err error
		if key, err = ring.Open(brokerKeyAAD, stored); err != nil {
			return nil, fmt.Errorf("the encryption keys given cannot open this Redis's data (it was sealed with data key %q): %w", seal.KeyID(stored), err)
		}
	}
	if len(key) != BrokerKeyLen {
		return nil, fmt.Errorf("broker key in %s is %d bytes, want %d", brokerKeyKey, len(key), BrokerKeyLen)
	}
	return key, nil
}

func resealBrokerKey(ctx context.Context, rdb redis.UniversalClient, stored string, key []byte, ring *seal.Keyring) error {
	resealed, err := encodeBrokerKey(key, ring)
	if err != nil {
		return err
	}
	// Losing the race means another replica resealed it first; fine.
	if err := casScript.Run(ctx, rdb, []string{brokerKeyKey}, stored, resealed).Err(); err != nil {
		return fmt.Errorf("reseal broker key: %w", err)
	}
	return nil
}
