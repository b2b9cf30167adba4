package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"crypto/x509"
	"crypto/x509/pkix"
)

const (
	clientTok = "client-token-0123456789"
	adminTok  = "admin-token-0123456789abc"
	opsTok    = "ops-token-from-env-0123456789"
)

func hashHex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "auth.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadFileAndEnv(t *testing.T) {
	path := writeFile(t, `
tokens:
  - name: billing-svc
    role: client
    pools: [openai, anthropic]
    sha256: `+hashHex(clientTok)+`
  - name: ops
    role: admin
    token_env: OPS_TOKEN
certificates:
  - name: app-a
    role: client
    subject_cn: app-a
  - name: mesh
    role: admin
    uri_san: spiffe://cluster/ns/ops/sa/admin
`)
	pol, err := Load(path, env(map[string]string{"OPS_TOKEN": opsTok, EnvAdminTokens: adminTok}))
	if err != nil {
		t.Fatal(err)
	}
	if !pol.Enabled() || !pol.HasCertRules() {
		t.Fatal("policy with credentials reports itself disabled")
	}
	for tok, want := range map[string]Principal{
		clientTok: {Name: "billing-svc", Role: RoleClient, Pools: []string{"openai", "anthropic"}, Via: "token"},
		opsTok:    {Name: "ops", Role: RoleAdmin, Via: "token"},
		adminTok:  {Name: "admin_token[0]", Role: RoleAdmin, Via: "token"},
	} {
		p, ok := pol.ByToken(tok)
		if !ok || p.Name != want.Name || p.Role != want.Role || strings.Join(p.Pools, ",") != strings.Join(want.Pools, ",") {
			t.Errorf("ByToken(%s…) = %+v, %v; want %+v", tok[:6], p, ok, want)
		}
	}
	for _, bad := range []string{"", clientTok[:len(clientTok)-1], clientTok + "x", strings.ToUpper(clientTok), hashHex(clientTok)} {
		if p, ok := pol.ByToken(bad); ok {
			t.Errorf("ByToken(%q) accepted as %q", bad, p.Name)
		}
	}
	spiffe, _ := url.Parse("spiffe://cluster/ns/ops/sa/admin")
	if p, ok := pol.ByCert(&x509.Certificate{URIs: []*url.URL{spiffe}}); !ok || p.Name != "mesh" || p.Role != RoleAdmin {
		t.Errorf("URI SAN rule: %+v, %v", p, ok)
	}
	if p, ok := pol.ByCert(&x509.Certificate{Subject: pkix.Name{CommonName: "app-a"}}); !ok || p.Name != "app-a" {
		t.Errorf("CN rule: %+v, %v", p, ok)
	}
	if _, ok := pol.ByCert(&x509.Certificate{Subject: pkix.Name{CommonName: "stranger"}}); ok {
		t.Error("unmapped certificate accepted")
	}
}

func TestLoadRejectsAndNeverShowsTokens(t *testing.T) {
	tests := []struct {
		name, file string
		env        map[string]string
		want       string
	}{
		{"unknown field", "tokens:\n  - name: a\n    role: client\n    sha256: " + hashHex(clientTok) + "\n    colour: red\n", nil, "line 5"},
		{"bad role", "tokens:\n  - name: a\n    role: root\n    sha256: " + hashHex(clientTok) + "\n", nil, `role "root"`},
		{"no credential", "tokens:\n  - name: a\n    role: client\n", nil, "set sha256 or token_env"},
		{"both credentials", "tokens:\n  - name: a\n    role: client\n    sha256: " + hashHex(clientTok) + "\n    token_env: X\n", map[string]string{"X": clientTok}, "not both"},
		{"bad hash", "tokens:\n  - name: a\n    role: client\n    sha256: abc\n", nil, "64 hex"},
		{"empty env", "tokens:\n  - name: a\n    role: client\n    token_env: MISSING\n", nil, "MISSING is empty"},
		{"short env token", "tokens:\n  - name: a\n    role: client\n    token_env: X\n", map[string]string{"X": "short-secret"}, "shorter than"},
		{"duplicate name", "tokens:\n  - {name: a, role: client, sha256: " + hashHex(clientTok) + "}\n  - {name: a, role: admin, sha256: " + hashHex(adminTok) + "}\n", nil, "used twice"},
		{"bad pool", "tokens:\n  - {name: a, role: client, pools: ['a b'], sha256: " + hashHex(clientTok) + "}\n", nil, "not a valid pool"},
		{"cert two matchers", "certificates:\n  - {name: c, role: client, subject_cn: x, dns_san: y}\n", nil, "exactly one"},
		{"short admin env", "", map[string]string{EnvAdminTokens: "short-secret"}, EnvAdminTokens},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.file != "" {
				path = writeFile(t, tt.file)
			}
			_, err := Load(path, env(tt.env))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load error = %v, want one containing %q", err, tt.want)
			}
			for _, secret := range []string{clientTok, "short-secret"} {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("error shows a token: %v", err)
				}
			}
		})
	}
}

func TestRoles(t *testing.T) {
	admin := Principal{Role: RoleAdmin}
	client := Principal{Role: RoleClient, Pools: []string{"p"}}
	if !admin.Can(RoleClient) || !admin.Can(RoleAdmin) || !client.Can(RoleClient) || client.Can(RoleAdmin) {
		t.Fatal("role ordering is wrong")
	}
	if !admin.Allows("any") || !client.Allows("p") || client.Allows("q") {
		t.Fatal("pool limits are wrong")
	}
	if _, err := ParseRole("superuser"); err == nil {
		t.Fatal("unknown role parsed")
	}
}

// ByToken compares fixed-size hashes with subtle.ConstantTimeCompare and
// walks every entry whatever the outcome; this checks that a match is found
// in any position and that a lookup does no input-dependent allocation.
// (Timing itself is not asserted: tests never measure wall time.)
func TestByTokenFindsAnyEntryWithoutAllocating(t *testing.T) {
	pol := &Policy{}
	for i, tok := range []string{clientTok, adminTok, opsTok} {
		if err := pol.AddToken(Principal{Name: string(rune('a' + i)), Role: RoleClient}, sha256.Sum256([]byte(tok))); err != nil {
			t.Fatal(err)
		}
	}
	first, ok := pol.ByToken(clientTok)
	if !ok || first.Name != "a" {
		t.Fatalf("first entry: %+v, %v", first, ok)
	}
	last, ok := pol.ByToken(opsTok)
	if !ok || last.Name != "c" {
		t.Fatalf("last entry: %+v, %v", last, ok)
	}
	allocs := testing.AllocsPerRun(100, func() { pol.ByToken("no-such-token-at-all-000") })
	if allocs != 0 {
		t.Fatalf("ByToken allocates %v times per call; the lookup must not depend on input shape", allocs)
	}
}
