package lease

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestIssueVerifyRoundTrip(t *testing.T) {
	s := NewSigner([]byte("k"))
	exp := time.UnixMilli(1_800_000_000_123)
	id := s.Issue("pool-a", "0123456789abcdef", exp)
	if len(id) != IDLen {
		t.Fatalf("len(lease id) = %d, want %d", len(id), IDLen)
	}
	keyID, gotExp, err := s.Verify("pool-a", id)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if keyID != "0123456789abcdef" || !gotExp.Equal(exp) {
		t.Fatalf("Verify = %q, %v; want 0123456789abcdef, %v", keyID, gotExp, exp)
	}
	if other := s.Issue("pool-a", "0123456789abcdef", exp); other == id {
		t.Fatal("two leases of the same key are identical")
	}
}

func TestVerifyRejects(t *testing.T) {
	s := NewSigner([]byte("k"))
	id := s.Issue("pool-a", "0123456789abcdef", time.Now())
	flip := []byte(id)
	flip[5] ^= 1
	tests := []struct {
		name, pool, id string
		signer         *Signer
		want           error
	}{
		{"other pool", "pool-b", id, s, ErrUnknown},
		{"other key", "pool-a", id, NewSigner([]byte("other")), ErrUnknown},
		{"tampered", "pool-a", string(flip), s, ErrUnknown},
		{"short", "pool-a", id[:10], s, ErrMalformed},
		{"not base64", "pool-a", strings.Repeat("!", IDLen), s, ErrMalformed},
		{"empty", "pool-a", "", s, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := tt.signer.Verify(tt.pool, tt.id); !errors.Is(err, tt.want) {
				t.Fatalf("Verify error = %v, want %v", err, tt.want)
			}
		})
	}
}

func FuzzVerify(f *testing.F) {
	s := NewSigner([]byte("k"))
	f.Add("pool", s.Issue("pool", "0123456789abcdef", time.Now()))
	f.Add("pool", "")
	f.Fuzz(func(t *testing.T, pool, id string) {
		keyID, _, err := s.Verify(pool, id)
		if err == nil && len(keyID) != 16 {
			t.Fatalf("accepted lease with key id %q", keyID)
		}
	})
}

// The MAC is HMAC-SHA256 over the pool, a zero byte and the body, as it
// always was, however Signer computes it: brokers of older and newer
// versions accept each other's leases.
func TestMACIsHMACOfPoolAndBody(t *testing.T) {
	s := NewSigner([]byte("k"))
	body := []byte("0123456789abcdefghijk")
	m := hmac.New(sha256.New, []byte("k"))
	m.Write([]byte("pool-x"))
	m.Write([]byte{0})
	m.Write(body)
	want := m.Sum(nil)[:macLen]
	for range 3 { // pooled states are reused
		var got [macLen]byte
		s.mac(got[:], "pool-x", body)
		if !bytes.Equal(got[:], want) {
			t.Fatalf("mac = %x, want %x", got, want)
		}
	}
}
