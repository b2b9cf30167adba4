package store

import (
	"errors"
	"fmt"

	"github.com/keybroker/keybroker/internal/seal"
)

// WithKeyring encrypts secrets with ring before they reach Redis. Without
// it secrets are stored as they are; values sealed earlier then cannot be
// read, which LoadBrokerKey reports at start.
func WithKeyring(ring *seal.Keyring) Option {
	return func(s *Store) { s.ring = ring }
}

// errNoKeyring: Redis holds sealed data and the broker was started without
// the keys to open it.
var errNoKeyring = errors.New("the stored value is encrypted but no encryption key is configured (--encryption-key-file)")

// aad binds a sealed secret to its pool and key id, so a ciphertext copied
// onto another key's record fails to open.
func aad(pool, id string) []byte {
	return []byte("keybroker/secret/" + pool + "/" + id)
}

// sealSecret prepares a secret for Redis.
func (s *Store) sealSecret(pool, id, plain string) (string, error) {
	if s.ring == nil {
		return plain, nil
	}
	sealed, err := s.ring.Seal(aad(pool, id), []byte(plain))
	if err != nil {
		return "", fmt.Errorf("seal key %s: %w", id, err)
	}
	return sealed, nil
}

// openSecret reads a secret from Redis. Plaintext values written before
// encryption was turned on stay readable until `keybroker rekey`.
func (s *Store) openSecret(pool, id, stored string) (string, error) {
	if !seal.IsSealed(stored) {
		return stored, nil
	}
	if s.ring == nil {
		return "", fmt.Errorf("open key %s: %w", id, errNoKeyring)
	}
	plain, err := s.ring.Open(aad(pool, id), stored)
	if err != nil {
		return "", fmt.Errorf("open key %s: %w", id, err)
	}
	return string(plain), nil
}
