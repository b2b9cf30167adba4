// Package seal encrypts secrets before they reach Redis: AES-256-GCM with
// data keys from a keyring, each ciphertext naming the key that sealed it so
// keys can be rotated (add a new primary, rekey, retire the old one) while
// old ciphertexts stay readable.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// A sealed value is "enc1 <key id> <base64url(nonce|ciphertext)>". Secrets
// never contain spaces (secret.Normalize rejects them), so a stored value
// with a space is sealed and one without is a legacy plaintext.
const magic = "enc1"

// KeyLen is the length of a data key: AES-256.
const KeyLen = 32

var keyIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// Errors from Open. None carries key material or plaintext.
var (
	// ErrUnknownKey: the value was sealed with a key the keyring lacks.
	ErrUnknownKey = errors.New("sealed with a data key that is not in the keyring")
	// ErrCorrupt: the value is not a sealed value, or it fails
	// authentication (wrong key, tampered, or moved to another record).
	ErrCorrupt = errors.New("sealed value is corrupt or was sealed with another key")
)

// Keyring holds the data keys. The primary seals; every key opens.
type Keyring struct {
	primary string
	aeads   map[string]cipher.AEAD
}

// NewKeyring builds a keyring from raw keys; primary names the sealing key.
func NewKeyring(primary string, keys map[string][]byte) (*Keyring, error) {
	if _, ok := keys[primary]; !ok {
		return nil, fmt.Errorf("primary data key %q is not among the keys", primary)
	}
	k := &Keyring{primary: primary, aeads: make(map[string]cipher.AEAD, len(keys))}
	for id, raw := range keys {
		if !keyIDPattern.MatchString(id) {
			return nil, fmt.Errorf("data key id %q: want 1 to 32 of [A-Za-z0-9_-]", id)
		}
		if len(raw) != KeyLen {
			return nil, fmt.Errorf("data key %q is %d bytes, want %d (AES-256)", id, len(raw), KeyLen)
		}
		block, err := aes.NewCipher(raw)
		if err != nil {
			return nil, fmt.Errorf("data key %q: %w", id, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("data key %q: %w", id, err)
		}
		k.aeads[id] = aead
	}
	return k, nil
}

// Primary is the id of the key that seals.
func (k *Keyring) Primary() string { return k.primary }

// Seal encrypts plaintext with the primary key. aad binds the ciphertext to
// its record (pool and key id), so it cannot be swapped into another.
func (k *Keyring) Seal(aad, plaintext []byte) (string, error) {
	aead := k.aeads[k.primary]
	buf := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("seal: nonce: %w", err)
	}
	buf = aead.Seal(buf, buf[:aead.NonceSize()], plaintext, aad)
	return magic + " " + k.primary + " " + base64.RawURLEncoding.EncodeToString(buf), nil
}

// Open decrypts a sealed value.
func (k *Keyring) Open(aad []byte, sealed string) ([]byte, error) {
	id, data, err := parse(sealed)
	if err != nil {
		return nil, err
	}
	aead, ok := k.aeads[id]
	if !ok {
		return nil, fmt.Errorf("data key %q: %w", id, ErrUnknownKey)
	}
	if len(data) < aead.NonceSize()+aead.Overhead() {
		return nil, ErrCorrupt
	}
	plain, err := aead.Open(nil, data[:aead.NonceSize()], data[aead.NonceSize():], aad)
	if err != nil {
		return nil, ErrCorrupt
	}
	return plain, nil
}

// IsSealed reports whether a stored value is sealed (as opposed to a
// legacy plaintext written before encryption was turned on).
func IsSealed(stored string) bool {
	return strings.HasPrefix(stored, magic+" ")
}

// KeyID returns the id of the key that sealed a value, or "" for a value
// that is not sealed.
func KeyID(stored string) string {
	id, _, err := parse(stored)
	if err != nil {
		return ""
	}
	return id
}

func parse(sealed string) (id string, data []byte, err error) {
	parts := strings.Split(sealed, " ")
	if len(parts) != 3 || parts[0] != magic || !keyIDPattern.MatchString(parts[1]) {
		return "", nil, ErrCorrupt
	}
	data, err = base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return "", nil, ErrCorrupt
	}
	return parts[1], data, nil
}
