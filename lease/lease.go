// Package lease issues and checks lease ids: self-contained, signed tokens
// naming the key a GetRandom call handed out, so any replica can accept a
// failure report by lease without a Redis write on the hot path.
package lease

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"time"
)

// A lease id is base64url (no padding) of
// version(1) | key id(8) | expiry unix ms(8) | nonce(4) | mac(16).
const (
	version  = 1
	bodyLen  = 1 + 8 + 8 + 4
	macLen   = 16
	rawLen   = bodyLen + macLen
	idLength = (rawLen*8 + 5) / 6
)

// IDLen is the length of every lease id, in characters.
const IDLen = idLength

// Errors returned by Verify. Neither says more than that the lease is not
// one of ours, so a forger learns nothing.
var (
	// ErrMalformed: the lease id does not have a lease id's shape.
	ErrMalformed = errors.New("lease id is malformed")
	// ErrUnknown: the lease id was not issued for this pool by a broker
	// sharing our key.
	ErrUnknown = errors.New("lease id is unknown")
)

// Signer issues and verifies lease ids with a key every replica shares.
type Signer struct {
	key []byte
}

// NewSigner returns a Signer keyed with key.
func NewSigner(key []byte) *Signer {
	return &Signer{key: append([]byte(nil), key...)}
}

// Issue returns a lease id for keyID (a 16-hex-character key id) in pool,
// valid until expire.
func (s *Signer) Issue(pool, keyID string, expire time.Time) string {
	var raw [rawLen]byte
	raw[0] = version
	_, _ = hex.Decode(raw[1:9], []byte(keyID))
	binary.BigEndian.PutUint64(raw[9:17], uint64(expire.UnixMilli()))
	binary.BigEndian.PutUint32(raw[17:21], rand.Uint32())
	copy(raw[bodyLen:], s.mac(pool, raw[:bodyLen]))
	return base64.RawURLEncoding.EncodeToString(raw[:])
}

// Verify checks that leaseID was issued for pool and returns the key id and
// expiry it carries. It does not judge expiry: that is the caller's policy.
func (s *Signer) Verify(pool, leaseID string) (keyID string, expire time.Time, err error) {
	if len(leaseID) != idLength {
		return "", time.Time{}, ErrMalformed
	}
	raw, err := base64.RawURLEncoding.DecodeString(leaseID)
	if err != nil || len(raw) != rawLen || raw[0] != version {
		return "", time.Time{}, ErrMalformed
	}
	if !hmac.Equal(raw[bodyLen:], s.mac(pool, raw[:bodyLen])) {
		return "", time.Time{}, ErrUnknown
	}
	ms := int64(binary.BigEndian.Uint64(raw[9:17]))
	return hex.EncodeToString(raw[1:9]), time.UnixMilli(ms), nil
}

func (s *Signer) mac(pool string, body []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(pool))
	m.Write([]byte{0})
	m.Write(body)
	return m.Sum(nil)[:macLen]
}
