package secret

import (
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		name, in, want string
		wantErr        string
	}{
		{"plain", "sk-abc", "sk-abc", ""},
		{"trimmed", "  sk-abc\n", "sk-abc", ""},
		{"blank", "", "", "is blank"},
		{"whitespace only", " \t\r\n", "", "is blank"},
		{"inner space", "sk-a bc", "", "whitespace"},
		{"inner newline", "sk-a\nbc", "", "whitespace"},
		{"control", "sk-a\x00bc", "", "control"},
		{"bad utf8", "sk-\xff", "", "UTF-8"},
		{"too long", strings.Repeat("a", MaxLen+1), "", "longer than"},
		{"longest", strings.Repeat("a", MaxLen), strings.Repeat("a", MaxLen), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Normalize(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Normalize() error = %v, want one containing %q", err, tt.wantErr)
				}
				if s := strings.TrimSpace(tt.in); s != "" && strings.Contains(err.Error(), s) {
					t.Fatalf("error %q repeats the secret", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Normalize() = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestIDsAreStableKeyedAndShaped(t *testing.T) {
	a := NewIDs([]byte("key-a"))
	id := a.Of("sk-test-1")
	if !ValidID(id) {
		t.Fatalf("Of() = %q, not a valid id", id)
	}
	if again := NewIDs([]byte("key-a")).Of("sk-test-1"); again != id {
		t.Fatalf("same key and secret gave %q then %q", id, again)
	}
	if other := a.Of("sk-test-2"); other == id {
		t.Fatalf("different secrets share id %q", id)
	}
	if keyed := NewIDs([]byte("key-b")).Of("sk-test-1"); keyed == id {
		t.Fatalf("different HMAC keys gave the same id %q", id)
	}
}

func TestValidID(t *testing.T) {
	for id, want := range map[string]bool{
		"0123456789abcdef":  true,
		"0123456789ABCDEF":  false,
		"0123456789abcde":   false,
		"0123456789abcdef0": false,
		"0123456789abcdeg":  false,
		"":                  false,
	} {
		if got := ValidID(id); got != want {
			t.Errorf("ValidID(%q) = %v, want %v", id, got, want)
		}
	}
}

func TestMaskNeverShowsMostOfTheSecret(t *testing.T) {
	for in, want := range map[string]string{
		"sk-proj-abcdefghijklmnopwxyz": "sk-pr…wxyz",
		"abcdefgh":                     "ab…gh",
		"short":                        "…",
	} {
		if got := Mask(in); got != want {
			t.Errorf("Mask(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDeriveSeparatesPurposes(t *testing.T) {
	m := []byte("master")
	if string(Derive(m, "key-id")) == string(Derive(m, "lease")) {
		t.Fatal("Derive gave the same key for two purposes")
	}
}

// A caller (an admin pasting keys, or a keys file) sends a secret with an
// invisible format character: it would be stored as a different key from
// the one the provider issued (and a second copy of a key already held).
func TestNormalizeRejectsInvisibleFormatCharacters(t *testing.T) {
	for _, r := range []rune{'\u200B', '\uFEFF', '\u2060', '\u200D', '\u00AD'} {
		in := "sk-abc" + string(r) + "def0123456789"
		if _, err := Normalize(in); err == nil {
			t.Errorf("Normalize accepted a secret with U+%04X", r)
		}
	}
	if _, err := Normalize("sk-plain-0123456789"); err != nil {
		t.Fatal(err)
	}
}
