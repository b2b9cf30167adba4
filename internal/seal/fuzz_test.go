package seal

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzOpen feeds arbitrary stored values and AADs to Open: it must never
// panic, must fail with ErrCorrupt or ErrUnknownKey on anything it did not
// seal, and Seal then Open must round-trip any plaintext.
func FuzzOpen(f *testing.F) {
	ring, err := NewKeyring("k1", map[string][]byte{"k1": bytes.Repeat([]byte{7}, KeyLen)})
	if err != nil {
		f.Fatal(err)
	}
	sealed, _ := ring.Seal([]byte("aad"), []byte("sk-seed"))
	f.Add("aad", sealed, []byte("sk-seed"))
	f.Add("", "enc1 k9 AAAA", []byte(""))
	f.Add("x", "enc1  ", []byte("a b"))
	f.Fuzz(func(t *testing.T, aad, stored string, plain []byte) {
		// The only values that can open are seeds sealed with this key (in
		// any worker process: nonces differ, the key does not), so success
		// means the seed's AAD and plaintext; anything else is a forgery.
		got, err := ring.Open([]byte(aad), stored)
		if err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("Open error %v is neither ErrCorrupt nor ErrUnknownKey", err)
		}
		if err == nil && (aad != "aad" || string(got) != "sk-seed") {
			t.Fatalf("Open(%q, %q) accepted a value it never sealed: %q", aad, stored, got)
		}
		s, err := ring.Seal([]byte(aad), plain)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ring.Open([]byte(aad), s)
		if err != nil || !bytes.Equal(back, plain) {
			t.Fatalf("round trip of %q: %q, %v", plain, back, err)
		}
	})
}
