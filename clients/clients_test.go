package clients

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keybroker/keybroker/internal/brokertest"
	"github.com/keybroker/keybroker/internal/config"
)

// TestTypeScriptClient builds clients/ts (npm ci when its node_modules is
// missing, then tsc) and runs its node:test suite against a real broker.
func TestTypeScriptClient(t *testing.T) {
	requireTypeScript(t)
	run(t, "ts", brokerEnv(t), "node", "--test", "--test-reporter=spec", "dist/test/client.test.js")
}

// TestTypeScriptClientUnits runs clients/ts's tests with fake brokers
// (test/unit.test.ts): the usage queue's bound and batches, failed
// batches counted, a reused lease's uses window, and NO_BUDGET retries
// bounded by the call's own deadline. They need no broker.
func TestTypeScriptClientUnits(t *testing.T) {
	requireTypeScript(t)
	run(t, "ts", nil, "node", "--test", "--test-reporter=spec", "dist/test/unit.test.js")
}

// requireTypeScript skips without Node.js, and builds clients/ts once per
// run: npm ci when its node_modules is missing (the build runs as its
// prepare script), else the build alone.
func requireTypeScript(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not on PATH; install Node.js 20+ to test clients/ts (scripts/test.sh requires it)", tool)
		}
	}
	if err := buildTypeScript(); err != nil {
		t.Fatal(err)
	}
}

var buildTypeScript = sync.OnceValue(func() error {
	args := []string{"run", "--silent", "build"}
	if _, err := os.Stat(filepath.Join("ts", "node_modules")); err != nil {
		args = []string{"ci", "--no-audit", "--no-fund", "--loglevel=error"}
	}
	cmd := exec.Command("npm", args...)
	cmd.Dir = "ts"
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("npm %s in clients/ts: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
})

// TestPythonClient runs clients/python's unittest suite with Debian's
// python3 and its python3-grpcio, python3-protobuf and python3-httpx.
func TestPythonClient(t *testing.T) {
	py := python(t)
	env := append(brokerEnv(t), "PYTHONPATH="+pythonPath(t), "PYTHONDONTWRITEBYTECODE=1")
	run(t, filepath.Join("python"), env, py, "-m", "unittest", "-v", "tests.test_client")
}

// TestPythonClientUnits runs clients/python's tests with fake brokers
// (tests/test_unit.py), which need no broker.
func TestPythonClientUnits(t *testing.T) {
	py := python(t)
	env := []string{"PYTHONPATH=" + pythonPath(t), "PYTHONDONTWRITEBYTECODE=1"}
	run(t, filepath.Join("python"), env, py, "-m", "unittest", "-v", "tests.test_unit")
}

// brokerEnv starts a broker and a fake provider for one suite. The
// broker's policy gives each suite ("ts", "py") budgeted pools small
// enough that a burst of leases is refused with NO_BUDGET:
//   - <suite>-budget: 3 calls a minute, so a refusal asks for a wait
//     longer than the clients' 1s retry bound and is returned at once;
//   - <suite>-budget-uses: the same, for reused leases' granted uses;
//   - <suite>-budget-short: 1 call per 1s window, so a refusal asks for
//     less than a second and is retried after it;
//   - <suite>-budget-tokens: 1000 tokens a minute, for estimated tokens.
//
// Other pools have no declared limits: they are budgeted by what the
// clients' usage reports teach the broker.
func brokerEnv(t *testing.T) []string {
	cfg := config.Default()
	for _, suite := range []string{"ts", "py"} {
		cfg.Pools[suite+"-budget"] = config.Pool{Limits: config.Limits{RequestsPerMinute: 3}}
		cfg.Pools[suite+"-budget-uses"] = config.Pool{Limits: config.Limits{RequestsPerMinute: 3}}
		cfg.Pools[suite+"-budget-short"] = config.Pool{Limits: config.Limits{RequestsPerMinute: 60, Window: config.Duration(time.Second)}}
		cfg.Pools[suite+"-budget-tokens"] = config.Pool{Limits: config.Limits{TokensPerMinute: 1000}}
	}
	b := brokertest.Start(t, cfg)
	up := fakeProvider(t)
	return []string{"KEYBROKER_ADDR=" + b.Addr, "UPSTREAM_URL=" + up.URL}
}

// python returns a python3 that has the client's dependencies, or skips.
// KEYBROKER_PYTHON overrides; otherwise Debian's /usr/bin/python3 comes
// first, since the dependencies are Debian packages.
func python(t *testing.T) string {
	var candidates []string
	if p := os.Getenv("KEYBROKER_PYTHON"); p != "" {
		candidates = append(candidates, p)
	}
	candidates = append(candidates, "/usr/bin/python3", "python3")
	for _, c := range candidates {
		p, err := exec.LookPath(c)
		if err != nil {
			continue
		}
		if exec.Command(p, "-c", "import grpc, google.protobuf, httpx").Run() == nil {
			return p
		}
	}
	t.Skip("no python3 with grpc, protobuf and httpx; install them (Debian: apt-get install python3-grpcio python3-protobuf python3-httpx; scripts/test.sh does) to test clients/python")
	return ""
}

func pythonPath(t *testing.T) string {
	gen, err := filepath.Abs(filepath.Join("..", "gen", "python"))
	if err != nil {
		t.Fatal(err)
	}
	client, err := filepath.Abs("python")
	if err != nil {
		t.Fatal(err)
	}
	return client + string(os.PathListSeparator) + gen
}

// run runs a command in dir with env added, failing the test with its
// output when it fails and logging it otherwise.
func run(t *testing.T, dir string, env []string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	text := out.String()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, text)
	}
	t.Logf("%s %s:\n%s", name, strings.Join(args, " "), text)
}
