package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/redistest"
)

// chromium finds Debian's chromium. scripts/test.sh installs it and sets
// KEYBROKER_BROWSER_TEST=require, so CI fails rather than skips without
// it; elsewhere the test skips.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("KEYBROKER_BROWSER_TEST") == "require" {
		t.Fatal("chromium is not installed (apt-get install chromium); KEYBROKER_BROWSER_TEST=require")
	}
	t.Skip("chromium is not installed; scripts/test.sh installs it")
	return ""
}

// headless runs one headless chromium with a fresh profile and no network
// beyond the page: flags that keep it from phoning home (sync, component
// updates, background networking) and from needing a GPU or a sandbox the
// CI container lacks.
func headless(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--user-data-dir=" + t.TempDir()}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %q: %v\n%s", args, err, stderr.String())
	}
	return stdout.Bytes()
}

// TestStatusPageInChromium loads the status page of a real broker (on a
// real Redis, auth on) in headless Chromium, as an operator would: the
// pool, its states and the transition a reported 429 made are on the
// page; no secret is; and without the admin token the page stays shut.
// KEYBROKER_SCREENSHOT=docs/status-page.png refreshes the README's
// screenshot.
func TestStatusPageInChromium(t *testing.T) {
	bin := chromium(t)
	rs := redistest.Start(t)
	const token = "status-admin-token-0123456789abcdef"
	httpAddr := freeAddr(t)
	b := startBrokerEnv(t, []string{"KEYBROKER_ADMIN_TOKEN=" + token},
		"--redis", rs.Client().Options().Addr, "--metrics-addr", httpAddr, "--worker-name", "replica-a")
	ctx := metadata.AppendToOutgoingContext(ctxT(t), "authorization", "Bearer "+token)
	secrets := []string{"sk-browser-aaaa-SECRETBODY-0001", "sk-browser-bbbb-SECRETBODY-0002", "sk-browser-cccc-SECRETBODY-0003"}
	added, err := b.client.Add(ctx, &pb.AddRequest{Pool: "openai-main", Secrets: secrets})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.client.Add(ctx, &pb.AddRequest{Pool: "anthropic-main", Secrets: []string{"sk-ant-browser-SECRETBODY-0004"}}); err != nil {
		t.Fatal(err)
	}
	cooled := added.GetKeyIds()[1]
	if _, err := b.client.ReportFailure(ctx, &pb.ReportFailureRequest{Pool: "openai-main", Key: &pb.ReportFailureRequest_KeyId{KeyId: cooled},
		HttpStatus: 429, ErrorCode: "rate_limit_exceeded", ErrorType: "requests"}); err != nil {
		t.Fatal(err)
	}

	// Basic credentials in the URL are for this test only: a person types
	// the token into the browser's prompt.
	page := "http://admin:" + token + "@" + httpAddr + "/status"
	dom := string(headless(t, bin, "--dump-dom", page))
	for _, want := range []string{"openai-main", "anthropic-main", "cooling_down", "rate_limit_exceeded", cooled, "replica-a", "reachable"} {
		if !strings.Contains(dom, want) {
			t.Errorf("the page lacks %q:\n%s", want, dom)
		}
	}
	pool := string(headless(t, bin, "--dump-dom", "http://admin:"+token+"@"+httpAddr+"/status/pools/openai-main"))
	for _, want := range []string{cooled, "sk-br…0002", "active", "cooling_down"} {
		if !strings.Contains(pool, want) {
			t.Errorf("the pool page lacks %q:\n%s", want, pool)
		}
	}
	if strings.Contains(dom+pool, "SECRETBODY") {
		t.Fatalf("a secret reached the page")
	}
	if shut := string(headless(t, bin, "--dump-dom", "http://"+httpAddr+"/status")); strings.Contains(shut, "openai-main") {
		t.Fatalf("the page opened without the admin token:\n%s", shut)
	}

	shot := os.Getenv("KEYBROKER_SCREENSHOT")
	if shot == "" {
		shot = filepath.Join(t.TempDir(), "status.png")
	} else if shot, err = filepath.Abs(filepath.Join("../..", shot)); err != nil {
		t.Fatal(err)
	}
	headless(t, bin, "--screenshot="+shot, "--window-size=1280,720", "--hide-scrollbars", page)
	if png, err := os.ReadFile(shot); err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Fatalf("no screenshot at %s: %v", shot, err)
	}
}
