package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/testkit"
)

func authEntry(name, role, token string) string {
	h := sha256.Sum256([]byte(token))
	return "  - {name: " + name + ", role: " + role + ", sha256: " + hex.EncodeToString(h[:]) + "}\n"
}

// A client token leaks. The operator removes it from the auth file (an
// atomic rename, as config management does) and the running broker stops
// accepting it: on SIGHUP at once, and on its own once the file has
// settled. Before, every replica had to be restarted.
func TestAuthFileReloadRevokesATokenWithoutRestart(t *testing.T) {
	const admin, leaked, fresh = "admin-token-reload-000001", "leaked-token-reload-00002", "fresh-token-reload-000003"
	dir := t.TempDir()
	path := filepath.Join(dir, "auth.yaml")
	write := func(body string) {
		tmp := filepath.Join(dir, "auth.yaml.new")
		if err := os.WriteFile(tmp, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	write("tokens:\n" + authEntry("ops", "admin", admin) + authEntry("leaky", "client", leaked))
	b := startBroker(t, "--auth-file", path, "--config-reload-interval", "1h") // only SIGHUP reloads
	call := func(tok string) error {
		ctx := metadata.AppendToOutgoingContext(ctxT(t), "authorization", "Bearer "+tok)
		_, err := b.client.GetRandom(ctx, &pb.GetRandomRequest{Pool: "p"})
		if status.Code(err) == codes.FailedPrecondition { // POOL_EMPTY: authenticated
			return nil
		}
		return err
	}
	if err := call(leaked); err != nil {
		t.Fatalf("before revocation: %v", err)
	}

	write("tokens:\n" + authEntry("ops", "admin", admin) + authEntry("fresh", "client", fresh))
	if err := b.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, 10*time.Millisecond, "the revoked token to be refused", func() bool {
		return status.Code(call(leaked)) == codes.Unauthenticated
	})
	if err := call(fresh); err != nil {
		t.Fatalf("the new token: %v", err)
	}
	if err := call(admin); err != nil {
		t.Fatalf("the unchanged admin token: %v", err)
	}

	// A broken version is refused and the policy in force kept.
	write("tokens:\n  - {name: x, role: superuser}\n")
	if err := b.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, 10*time.Millisecond, "the broken version to be reported", func() bool {
		return strings.Contains(b.out.String(), "auth file reload failed")
	})
	if err := call(fresh); err != nil {
		t.Fatalf("a broken auth file replaced the policy: %v", err)
	}
}
