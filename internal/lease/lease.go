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
	"hash"
	"math/rand/v2"
	"sync"
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
	// macs holds *macState for reuse: Issue runs on every GetRandom, and
	// building an HMAC costs allocations and two block hashes that a Reset
	// of a used one does not.
	macs sync.Pool
}

// macState is a keyed HMAC-SHA256 with room for its input and output, so
// that computing a MAC allocates nothing.
type macState struct {
	h   hash.Hash
	in  [128]byte // pool (at most 64 bytes), 0, body
	sum [sha256.Size]byte
}

// NewSigner returns a Signer keyed with key.
func NewSigner(key []byte) *Signer {
	s := &Signer{key: append([]byte(nil), key...)}
	s.macs.New = func() any { return &macState{h: hmac.New(sha256.New, s.key)} }
	return s
}

// Issue returns a lease id for keyID (a 16-hex-character key id) in pool,
// valid until expire.
func (s *Signer) Issue(pool, keyID string, expire time.Time) string {
	var raw [rawLen]byte
	raw[0] = version
	_, _ = hex.Decode(raw[1:9], []byte(keyID))
	binary.BigEndian.PutUint64(raw[9:17], uint64(expire.UnixMilli()))
	binary.BigEndian.PutUint32(raw[17:21], rand.Uint32())
	s.mac(raw[bodyLen:], pool, raw[:bodyLen])
	var out [idLength]byte
	base64.RawURLEncoding.Encode(out[:], raw[:])
	return string(out[:])
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
	var want [macLen]byte
	s.mac(want[:], pool, raw[:bodyLen])
	if !hmac.Equal(raw[bodyLen:], want[:]) {
		return "", time.Time{}, ErrUnknown
	}
	ms := int64(binary.BigEndian.Uint64(raw[9:17]))
	return hex.EncodeToString(raw[1:9]), time.UnixMilli(ms), nil
}

// mac writes the truncated MAC of body in pool into dst (macLen bytes).
func (s *Signer) mac(dst []byte, pool string, body []byte) {
	m := s.macs.Get().(*macState)
	m.h.Reset()
	m.h.Write(append(append(append(m.in[:0], pool...), 0), body...))
	copy(dst, m.h.Sum(m.sum[:0]))
	s.macs.Put(m)
}
