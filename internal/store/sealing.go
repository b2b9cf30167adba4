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

// WithLegacyPlaintext lets a store with a keyring read values stored before
// encryption was turned on. Only the one-time migration (`keybroker rekey
// --seal-plaintext`) uses it: otherwise anyone who can write to Redis could
// plant a plaintext secret of their choosing under an existing key id.
func WithLegacyPlaintext() Option {
	return func(s *Store) { s.legacyPlaintext = true }
}

// ErrPlaintext is returned for a stored value that is not sealed while a
// keyring is configured.
var ErrPlaintext = errors.New("the stored value is not encrypted although encryption is on; refused " +
	"(run `keybroker rekey --seal-plaintext` once to seal data written before encryption was turned on)")

// ErrWrongSecret is returned for a stored secret that does not hash to the
// key id it is stored under: someone wrote it there, not keybroker.
var ErrWrongSecret = errors.New("the stored secret does not match its key id; refused (was Redis written to directly?)")

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

// openSecret reads a secret from Redis and checks that it hashes to its key
// id, so a value written to Redis by anyone but keybroker is never leased
// or sent to a provider. With a keyring, plaintext is refused unless the
// store migrates legacy data.
func (s *Store) openSecret(pool, id, stored string) (string, error) {
	plain, err := s.unseal(pool, id, stored)
	if err != nil {
		return "", err
	}
	if s.ids.Of(plain) != id {
		return "", fmt.Errorf("open key %s: %w", id, ErrWrongSecret)
	}
	return plain, nil
}

func (s *Store) unseal(pool, id, stored string) (string, error) {
	if !seal.IsSealed(stored) {
		if s.ring != nil && !s.legacyPlaintext {
			return "", fmt.Errorf("open key %s: %w", id, ErrPlaintext)
		}
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
