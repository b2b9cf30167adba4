package auth

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/keybroker/keybroker/internal/filewatch"
)

func rewrite(t *testing.T, path, body string, step int) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(time.Duration(step) * time.Second) // a distinct mtime
	if err := os.Chtimes(path, at, at); err != nil {
		t.Fatal(err)
	}
}

func tokenFile(entries ...string) string {
	var b strings.Builder
	b.WriteString("tokens:\n")
	for _, e := range entries {
		name, tok, _ := strings.Cut(e, "=")
		b.WriteString("  - {name: " + name + ", role: client, sha256: " + hashHex(tok) + "}\n")
	}
	return b.String()
}

// A leaked token is revoked by editing the auth file: every broker picks
// the new version up without a restart (before, the token kept working
// until each replica restarted). Broken versions and versions that would
// switch authentication off are refused, and the policy in force stays.
func TestLiveAuthFileRevokesWithoutRestart(t *testing.T) {
	const leaked, fresh = "leaked-token-0000000001", "fresh-token-00000000002"
	path := writeFile(t, tokenFile("svc="+leaked))
	l, err := NewLive(path, env(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := l.Current().ByToken(leaked); !ok {
		t.Fatal("token not loaded at start")
	}
	rewrite(t, path, tokenFile("svc2="+fresh), 1)
	if changed, err := filewatch.Reload(l, false); err != nil || !changed {
		t.Fatalf("reload = %v, %v", changed, err)
	}
	if _, ok := l.Current().ByToken(leaked); ok {
		t.Fatal("a revoked token still authenticates after the reload")
	}
	if _, ok := l.Current().ByToken(fresh); !ok {
		t.Fatal("the new token does not authenticate")
	}

	for i, broken := range []string{"tokens: [{name: x, role: superuser, sha256: 00}]\n", "tokens: []\n", ""} {
		rewrite(t, path, broken, 2+i)
		_, err := filewatch.Reload(l, false)
		if err == nil {
			t.Errorf("version %q accepted", broken)
		}
		if _, ok := l.Current().ByToken(fresh); !ok {
			t.Errorf("version %q replaced the policy in force", broken)
		}
	}
	rewrite(t, path, "", 9)
	if _, err := filewatch.Reload(l, false); !errors.Is(err, errAuthToggle) {
		t.Errorf("an empty file (authentication off) = %v, want errAuthToggle", err)
	}
}

// `pools: []` used to grant every pool (an empty list read as "no
// restriction"). It is now an error, naming the entry.
func TestEmptyPoolListIsAnError(t *testing.T) {
	path := writeFile(t, "tokens:\n  - {name: narrow, role: client, pools: [], sha256: "+hashHex("narrow-token-000000001")+"}\n")
	_, err := Load(path, env(nil))
	if err == nil || !strings.Contains(err.Error(), "pools: [] would grant no pool") {
		t.Fatalf("pools: [] = %v, want an error", err)
	}
	path = writeFile(t, "certificates:\n  - {name: c, role: client, pools: [], subject_cn: app}\n")
	if _, err := Load(path, env(nil)); err == nil {
		t.Fatal("pools: [] on a certificate rule accepted")
	}
}
