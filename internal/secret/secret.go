// Package secret holds what keybroker does with a provider key's secret
// short of storing it: normalising input, deriving its key id, and masking
// it for people.
package secret

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxLen is the longest secret accepted, in bytes. Provider keys are far
// shorter; the bound keeps a pasted file from becoming one "key".
const MaxLen = 4096

// IDLen is the length of a key id in hex characters (64 bits).
const IDLen = 16

// Normalize trims surrounding whitespace and rejects what cannot be a key:
// blank, over MaxLen, invalid UTF-8, or with whitespace, control or
// format characters inside (U+200B zero width space, U+FEFF byte order
// mark, U+2060 word joiner... are invisible when pasted, so the stored
// key would differ from the one the provider issued, and could pose as
// a second copy of a key already present). Errors never contain the
// secret.
func Normalize(s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", errors.New("is blank")
	case len(s) > MaxLen:
		return "", fmt.Errorf("is %d bytes, longer than %d", len(s), MaxLen)
	case !utf8.ValidString(s):
		return "", errors.New("is not valid UTF-8")
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return "", errors.New("contains whitespace or control characters")
		}
		if unicode.Is(unicode.Cf, r) {
			return "", fmt.Errorf("contains an invisible format character (U+%04X)", r)
		}
	}
	return s, nil
}

// IDs derives key ids: a keyed hash (HMAC-SHA256) of the secret, so an id
// is stable across replicas sharing the key yet cannot confirm a guessed
// secret without it.
type IDs struct {
	key []byte
}

// NewIDs returns an IDs keyed with key, which every replica must share.
func NewIDs(key []byte) *IDs {
	return &IDs{key: append([]byte(nil), key...)}
}

// Of returns the key id of a normalised secret.
func (h *IDs) Of(secret string) string {
	m := hmac.New(sha256.New, h.key)
	m.Write([]byte(secret))
	return hex.EncodeToString(m.Sum(nil)[:IDLen/2])
}

// ValidID reports whether id has the shape of a key id: IDLen lower-case
// hex characters.
func ValidID(id string) bool {
	if len(id) != IDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Derive returns a sub-key of master for one purpose ("key-id", "lease"),
// so that one broker key can serve several uses without reuse.
func Derive(master []byte, purpose string) []byte {
	m := hmac.New(sha256.New, master)
	m.Write([]byte("keybroker/" + purpose))
	return m.Sum(nil)
}

// Mask shows a secret to people without giving it away: the first few and
// last four characters for long keys ("sk-pr…wxyz"), less for short ones.
func Mask(secret string) string {
	r := []rune(secret)
	switch {
	case len(r) >= 16:
		return string(r[:5]) + "…" + string(r[len(r)-4:])
	case len(r) >= 8:
		return string(r[:2]) + "…" + string(r[len(r)-2:])
	default:
		return "…"
	}
}
