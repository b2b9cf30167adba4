// Package node holds the Node.js example (lease.js). Its test installs the
// pinned packages with npm ci and runs the example against a real broker.
package node

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/brokertest"
)

// npmCI installs the packages pinned in package-lock.json, once per run.
var npmCI = sync.OnceValue(func() error {
	out, err := exec.Command("npm", "ci", "--no-audit", "--no-fund", "--loglevel=error").CombinedOutput()
	if err != nil {
		return fmt.Errorf("npm ci (package-lock.json): %w\n%s", err, out)
	}
	return nil
})

// requireNode skips the test when Node.js is not installed, and installs
// the example's packages otherwise.
func requireNode(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not on PATH; install Node.js 18+ to run the Node.js example", tool)
		}
	}
	if err := npmCI(); err != nil {
		t.Fatal(err)
	}
}

func TestNodeExampleLeasesAndReports(t *testing.T) {
	requireNode(t)
	b := brokertest.Start(t, nil)
	const sec = "sk-node-example-0123456789abcdef"
	id := b.Add(t, "openai-main", sec)[0]
	node := exec.Command("node", "lease.js")
	node.Env = append(os.Environ(), "KEYBROKER_ADDR="+b.Addr, "POOL=openai-main")
	var stdout, stderr bytes.Buffer
	node.Stdout, node.Stderr = &stdout, &stderr
	if err := node.Run(); err != nil {
		t.Fatalf("node lease.js: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	if strings.Contains(stdout.String()+stderr.String(), sec) {
		t.Fatalf("the example printed the secret:\n%s", stdout.String())
	}

	var lines []map[string]string
	for _, l := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		var m map[string]string
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("output line %q: %v", l, err)
		}
		lines = append(lines, m)
	}
	if len(lines) != 2 || lines[0]["keyId"] != id || lines[1]["state"] != "KEY_STATE_COOLING_DOWN" || lines[1]["kind"] != "FAILURE_KIND_RATE_LIMITED" {
		t.Fatalf("output:\n%s\nwant a lease of %s, then a report that cools it down", stdout.String(), id)
	}
	if k := b.Keys(t, "openai-main")[id]; k.GetState() != pb.KeyState_KEY_STATE_COOLING_DOWN || k.GetLeaseCount() != 1 || k.GetFailureCount() != 1 {
		t.Fatalf("the broker has the key as %v, leased %d times, %d failures", k.GetState(), k.GetLeaseCount(), k.GetFailureCount())
	}
}

func TestNodeExampleReportsBrokerErrors(t *testing.T) {
	requireNode(t)
	b := brokertest.Start(t, nil)
	node := exec.Command("node", "lease.js")
	node.Env = append(os.Environ(), "KEYBROKER_ADDR="+b.Addr, "POOL=empty")
	out, err := node.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "FAILED_PRECONDITION") || !strings.Contains(string(out), `pool "empty" has no keys`) ||
		!strings.Contains(string(out), "(reason POOL_EMPTY)") {
		t.Fatalf("node lease.js on an empty pool: %v\n%s", err, out)
	}
}

// TestNodeExampleDecodesRetryInfo runs the example twice on a one-key
// pool: the first run cools the key down for 20s, so the second is told
// NO_HEALTHY_KEY and how long to wait, from the status details.
func TestNodeExampleDecodesRetryInfo(t *testing.T) {
	requireNode(t)
	b := brokertest.Start(t, nil)
	b.Add(t, "solo", "sk-node-example-solo-0123456789")
	env := append(os.Environ(), "KEYBROKER_ADDR="+b.Addr, "POOL=solo")
	first := exec.Command("node", "lease.js")
	first.Env = env
	if out, err := first.CombinedOutput(); err != nil {
		t.Fatalf("first run: %v\n%s", err, out)
	}
	second := exec.Command("node", "lease.js")
	second.Env = env
	out, err := second.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "UNAVAILABLE") || !strings.Contains(string(out), "(reason NO_HEALTHY_KEY; retry in ") {
		t.Fatalf("second run on a cooling pool: %v\n%s", err, out)
	}
}
