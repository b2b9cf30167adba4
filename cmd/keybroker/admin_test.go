package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/brokertest"
)

// cli runs `keybroker args…` in-process against the broker at addr (via
// KEYBROKER_ADDR, as an operator would set it).
func cli(t *testing.T, addr, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	getenv := func(k string) string {
		if k == "KEYBROKER_ADDR" {
			return addr
		}
		return ""
	}
	code = run(context.Background(), args, getenv, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestKeysImport100k imports 100,000 keys from a file and finds exactly
// those keys in the list and the export.
func TestKeysImport100k(t *testing.T) {
	b := brokertest.Start(t, nil)
	const n = 100_000
	secrets := make([]string, n)
	var file strings.Builder
	file.WriteString("# bulk import\n")
	for i := range secrets {
		secrets[i] = fmt.Sprintf("sk-bulk-%06d-%x", i, i*7919)
		file.WriteString(secrets[i] + "\n")
	}
	path := filepath.Join(t.TempDir(), "keys.txt")
	if err := os.WriteFile(path, []byte(file.String()), 0o600); err != nil {
		t.Fatal(err)
	}

	code, out, errOut := cli(t, b.Addr, "", "keys", "import", "--pool", "bulk", path)
	if code != 0 || !strings.Contains(out, "pool bulk: 100000 keys, 100000 added, 0 already present") {
		t.Fatalf("import: exit %d\n%s%s", code, out, errOut)
	}
	if errOut != "" {
		t.Errorf("import wrote to stderr, which is not a terminal here: %q", errOut)
	}

	code, out, errOut = cli(t, b.Addr, "", "keys", "list", "--pool", "bulk", "-o", "json")
	var listed pb.GetAllResponse
	if code != 0 || protojson.Unmarshal([]byte(out), &listed) != nil {
		t.Fatalf("list -o json: exit %d, %.200s%s", code, out, errOut)
	}
	ids := map[string]bool{}
	for _, k := range listed.GetKeys() {
		ids[k.GetKeyId()] = true
		if k.GetSecret() != "" || k.GetState() != pb.KeyState_KEY_STATE_ACTIVE {
			t.Fatalf("listed key %v: want masked and active", k)
		}
	}
	if len(listed.GetKeys()) != n || len(ids) != n || listed.GetCounts().GetTotal() != n {
		t.Fatalf("list: %d keys, %d distinct ids, total %d; want %d", len(listed.GetKeys()), len(ids), listed.GetCounts().GetTotal(), n)
	}

	code, out, errOut = cli(t, b.Addr, "", "keys", "export", "--pool", "bulk", "--reveal")
	if code != 0 {
		t.Fatalf("export: exit %d: %s", code, errOut)
	}
	var exported []string
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		pool, sec, _ := strings.Cut(line, "\t")
		if pool != "bulk" {
			t.Fatalf("export line %q: want pool<TAB>secret", line)
		}
		exported = append(exported, sec)
	}
	slices.Sort(exported)
	slices.Sort(secrets)
	if !slices.Equal(exported, secrets) {
		t.Fatalf("export returned %d secrets, not exactly the %d imported", len(exported), n)
	}
}

func TestKeysCommands(t *testing.T) {
	b := brokertest.Start(t, nil)
	const s1, s2 = "sk-cli-first-0123456789abcdef", "sk-cli-second-0123456789abcdef"

	code, out, _ := cli(t, b.Addr, s2+"\nother\tsk-cli-other-0123456789abcd\n", "keys", "import", "--pool", "cli", "-")
	if code != 0 || !strings.Contains(out, "pool cli: 1 keys, 1 added") || !strings.Contains(out, "pool other: 1 keys, 1 added") {
		t.Fatalf("import from stdin: %d %s", code, out)
	}
	code, out, _ = cli(t, b.Addr, "", "keys", "add", "--pool", "cli", s1, s2)
	if code != 0 || !strings.Contains(out, "1 added, 1 already present") || !strings.Contains(out, "sk-cl…cdef") || strings.Contains(out, s1) {
		t.Fatalf("add: %d %s", code, out)
	}
	ids := b.Keys(t, "cli")
	var id1 string
	for id, k := range ids {
		if k.GetMaskedSecret() == "sk-cl…cdef" && id1 == "" {
			id1 = id
		}
	}

	code, out, _ = cli(t, b.Addr, "", "keys", "list", "--pool", "cli")
	if code != 0 || !strings.Contains(out, "KEY ID") || !strings.Contains(out, id1) || strings.Contains(out, s1) ||
		!strings.Contains(out, "2 keys; pool: 2 total, 2 active") {
		t.Fatalf("list: %d\n%s", code, out)
	}
	code, out, _ = cli(t, b.Addr, "", "pools", "cli", "other", "empty")
	if code != 0 || !regexpMatch(`cli\s+2\s+2\s+0\s+0\s+0`, out) || !regexpMatch(`other\s+1\s+1`, out) || !regexpMatch(`empty\s+0\s+0`, out) {
		t.Fatalf("pools: %d\n%s", code, out)
	}
	code, out, _ = cli(t, b.Addr, "", "pools") // every pool, from ListPools; "empty" never held a key
	if code != 0 || !regexpMatch(`cli\s+2\s+2\s+0\s+0\s+0`, out) || !regexpMatch(`other\s+1\s+1`, out) || strings.Contains(out, "empty") {
		t.Fatalf("pools (all): %d\n%s", code, out)
	}
	code, out, _ = cli(t, b.Addr, id1+"\n0123456789abcdef\n", "keys", "remove", "--pool", "cli", "-")
	if code != 0 || !strings.Contains(out, "1 removed, not found: 0123456789abcdef") || len(b.Keys(t, "cli")) != 1 {
		t.Fatalf("remove: %d %s", code, out)
	}
}

// TestAdminErrors checks that every failure is one line on stderr naming
// the problem, with exit 2 for a bad command line and 1 for a failed call.
func TestAdminErrors(t *testing.T) {
	b := brokertest.Start(t, nil)
	b.Add(t, "p", "sk-errors-0123456789abcdef")
	tests := []struct {
		name string
		addr string
		args []string
		code int
		want string
	}{
		{"export without --reveal", b.Addr, []string{"keys", "export", "--pool", "p"}, 2, "pass --reveal"},
		{"no pool", b.Addr, []string{"keys", "list"}, 2, "--pool is required"},
		{"bad state", b.Addr, []string{"keys", "list", "--pool", "p", "--state", "asleep"}, 2, `--state "asleep"`},
		{"bad output", b.Addr, []string{"keys", "list", "--pool", "p", "-o", "yaml"}, 2, `-o "yaml"`},
		{"unknown subcommand", b.Addr, []string{"keys", "rotate"}, 2, `unknown command "rotate"`},
		{"bad pool name", b.Addr, []string{"keys", "list", "--pool", "a b"}, 1, "pool: must be 1 to 64 characters"},
		{"bad key id", b.Addr, []string{"keys", "remove", "--pool", "p", "not-an-id"}, 1, "key_ids[0]: must be a key id"},
		{"bad import line", b.Addr, []string{"keys", "import", "-"}, 1, "stdin: line 1: no pool"},
		{"broker down", "127.0.0.1:1", []string{"keys", "list", "--pool", "p"}, 1, "cannot reach the broker at 127.0.0.1:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := cli(t, tt.addr, "sk-no-pool-for-this-line-0123\n", tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.want) || strings.Count(errOut, "\n") != 1 {
				t.Fatalf("exit %d, stderr %q; want exit %d and one line with %q (stdout %q)", code, errOut, tt.code, tt.want, out)
			}
			if strings.Contains(errOut, "sk-no-pool") || strings.Contains(errOut, "sk-errors") {
				t.Fatalf("error shows a secret: %q", errOut)
			}
		})
	}
}

func regexpMatch(pattern, s string) bool {
	return regexp.MustCompile(pattern).MatchString(s)
}

func TestAdminFlagsFromEnvironment(t *testing.T) {
	env := map[string]string{"KEYBROKER_ADDR": "127.0.0.1:1", "KEYBROKER_TIMEOUT": "soon"}
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"pools", "p"}, func(k string) string { return env[k] }, strings.NewReader(""), &out, &errOut)
	if code != 2 || !strings.Contains(errOut.String(), `KEYBROKER_TIMEOUT="soon"`) {
		t.Fatalf("bad KEYBROKER_TIMEOUT: exit %d, %q", code, errOut.String())
	}
	env["KEYBROKER_TIMEOUT"] = "2s"
	errOut.Reset()
	code = run(context.Background(), []string{"pools", "p"}, func(k string) string { return env[k] }, strings.NewReader(""), &out, &errOut)
	if code != 1 || !strings.Contains(errOut.String(), "cannot reach the broker at 127.0.0.1:1") {
		t.Fatalf("KEYBROKER_ADDR not used: exit %d, %q", code, errOut.String())
	}
	errOut.Reset()
	code = run(context.Background(), []string{"pools", "--addr", "127.0.0.1:2", "p"}, func(k string) string { return env[k] }, strings.NewReader(""), &out, &errOut)
	if code != 1 || !strings.Contains(errOut.String(), "127.0.0.1:2") {
		t.Fatalf("--addr does not win over KEYBROKER_ADDR: exit %d, %q", code, errOut.String())
	}
}
