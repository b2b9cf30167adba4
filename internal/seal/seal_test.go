package seal

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func key(t *testing.T) []byte {
	t.Helper()
	b := make([]byte, KeyLen)
	rand.Read(b)
	return b
}

func TestSealOpenRoundTripAndRotation(t *testing.T) {
	k1, k2 := key(t), key(t)
	old, err := NewKeyring("k1", map[string][]byte{"k1": k1})
	if err != nil {
		t.Fatal(err)
	}
	aad := []byte("pool|id")
	sealed, err := old.Seal(aad, []byte("sk-secret-value"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, "sk-secret-value") || !IsSealed(sealed) || KeyID(sealed) != "k1" {
		t.Fatalf("sealed = %q", sealed)
	}
	again, _ := old.Seal(aad, []byte("sk-secret-value"))
	if again == sealed {
		t.Fatal("two seals of one plaintext are identical: nonce reuse")
	}

	rotated, err := NewKeyring("k2", map[string][]byte{"k1": k1, "k2": k2})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := rotated.Open(aad, sealed)
	if err != nil || string(plain) != "sk-secret-value" {
		t.Fatalf("rotated keyring cannot open an old value: %q, %v", plain, err)
	}
	resealed, _ := rotated.Seal(aad, plain)
	if KeyID(resealed) != "k2" {
		t.Fatalf("resealed with %q, want the new primary", KeyID(resealed))
	}
	if _, err := old.Open(aad, resealed); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("old keyring opening a k2 value: %v, want ErrUnknownKey", err)
	}
}

func TestOpenRejects(t *testing.T) {
	k, _ := NewKeyring("k", map[string][]byte{"k": key(t)})
	other, _ := NewKeyring("k", map[string][]byte{"k": key(t)})
	sealed, _ := k.Seal([]byte("a"), []byte("secret"))
	parts := strings.Split(sealed, " ")
	raw, _ := base64.RawURLEncoding.DecodeString(parts[2])
	raw[len(raw)-1] ^= 1
	tampered := parts[0] + " " + parts[1] + " " + base64.RawURLEncoding.EncodeToString(raw)
	for name, tc := range map[string]struct {
		ring  *Keyring
		aad   string
		value string
	}{
		"wrong key":       {other, "a", sealed},
		"other record":    {k, "b", sealed},
		"tampered":        {k, "a", tampered},
		"plaintext":       {k, "a", "sk-plain"},
		"truncated":       {k, "a", parts[0] + " " + parts[1] + " AAAA"},
		"bad base64":      {k, "a", parts[0] + " " + parts[1] + " !!!"},
		"bad key id":      {k, "a", parts[0] + " k/x " + parts[2]},
		"too many fields": {k, "a", sealed + " x"},
	} {
		if _, err := tc.ring.Open([]byte(tc.aad), tc.value); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: Open error = %v, want ErrCorrupt", name, err)
		}
	}
}

func TestParseKeys(t *testing.T) {
	a, b := key(t), key(t)
	text := "# keys\n\nnew=" + base64.StdEncoding.EncodeToString(a) + "\nold=" + base64.RawURLEncoding.EncodeToString(b) + "\n"
	k, err := ParseKeys(text)
	if err != nil {
		t.Fatal(err)
	}
	if k.Primary() != "new" || len(k.aeads) != 2 {
		t.Fatalf("primary %q, %d keys", k.Primary(), len(k.aeads))
	}
	if _, err := ParseKeys("a=" + base64.StdEncoding.EncodeToString(a) + ",b=" + base64.StdEncoding.EncodeToString(b)); err != nil {
		t.Fatalf("comma-separated keys: %v", err)
	}
	secretish := base64.StdEncoding.EncodeToString(a[:16])
	for text, want := range map[string]string{
		"":                         "no data keys",
		"noequals":                 "want ID=BASE64",
		"k=%%%":                    "not base64",
		"k=" + secretish:           "16 bytes",
		"bad/id=" + secretish:      "",
		"k=" + secretish + "\nk=x": "",
	} {
		_, err := ParseKeys(text)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseKeys(%q) = %v, want error containing %q", text, err, want)
		}
		if err != nil && strings.Contains(err.Error(), secretish) {
			t.Errorf("error shows key material: %v", err)
		}
	}
}

func TestLoadKeysRefusesReadableFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(path, []byte("k="+base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, KeyLen))), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKeys(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("LoadKeys on a 0644 file = %v", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKeys(path); err != nil {
		t.Fatal(err)
	}
}
