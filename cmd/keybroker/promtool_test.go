package main

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"testing"
)

// promtool finds promtool: $KEYBROKER_PROMTOOL (scripts/test.sh extracts
// it from Debian's prometheus package and sets it, which also makes the
// test required), or PATH; otherwise the test skips.
func promtool(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("KEYBROKER_PROMTOOL"); p != "" {
		return p
	}
	if p, err := exec.LookPath("promtool"); err == nil {
		return p
	}
	t.Skip("promtool is not installed; scripts/test.sh provides it")
	return ""
}

// TestPromtoolChecks runs `promtool check rules` on the shipped alerts and
// `promtool check metrics` on a real broker's first scrape.
func TestPromtoolChecks(t *testing.T) {
	bin := promtool(t)
	if out, err := exec.Command(bin, "check", "rules", "../../deploy/prometheus/alerts.yaml").CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	httpAddr := freeAddr(t)
	startBroker(t, "--metrics-addr", httpAddr)
	resp, err := http.Get("http://" + httpAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	scrape, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "check", "metrics")
	cmd.Stdin = bytes.NewReader(scrape)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}
