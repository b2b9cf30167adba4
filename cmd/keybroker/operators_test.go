package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/brokertest"
)

func TestKeysHistoryShowsWhoMovedAKey(t *testing.T) {
	b := brokertest.Start(t, nil)
	ids := b.Add(t, "hist", "sk-history-0123456789abcdef")
	if _, err := b.Client.ReportFailure(context.Background(), &pb.ReportFailureRequest{Pool: "hist",
		Key: &pb.ReportFailureRequest_KeyId{KeyId: ids[0]}, HttpStatus: 429, ErrorCode: "rate_limit_exceeded"}); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := cli(t, b.Addr, "", "keys", "history", "hist", ids[0])
	if code != 0 || !regexpMatch(`active\s+cooling_down\s+rate_limit_exceeded\s+report`, out) ||
		!regexpMatch(`-\s+active\s+added\s+admin`, out) || !strings.Contains(out, "2 events") {
		t.Fatalf("keys history: %d\n%s%s", code, out, errOut)
	}
	// Flags after the positional arguments, and the JSON shape of the RPC.
	code, out, errOut = cli(t, b.Addr, "", "keys", "history", "hist", ids[0], "-o", "json", "--limit", "1")
	var resp pb.GetKeyHistoryResponse
	if code != 0 || protojson.Unmarshal([]byte(out), &resp) != nil || len(resp.GetEvents()) != 1 || resp.GetEvents()[0].GetReason() != "rate_limit_exceeded" {
		t.Fatalf("keys history -o json --limit 1: %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut = cli(t, b.Addr, "", "keys", "history", "hist"); code != 2 || !strings.Contains(errOut, "POOL KEY_ID") {
		t.Fatalf("keys history without a key id: %d %s", code, errOut)
	}
}

func TestPoolsRetire(t *testing.T) {
	b := brokertest.Start(t, nil)
	ids := b.Add(t, "old", "sk-retire-0123456789abcdef", "sk-retire-fedcba9876543210")
	b.Add(t, "kept", "sk-kept-0123456789abcdef")

	code, _, errOut := cli(t, b.Addr, "", "pools", "retire", "old")
	if code != 1 || !strings.Contains(errOut, "still holds keys") || !strings.Contains(errOut, "FailedPrecondition") {
		t.Fatalf("retire a pool with keys: %d %s", code, errOut)
	}
	if code, _, errOut = cli(t, b.Addr, "", "pools", "retire", "never-was"); code != 1 || !strings.Contains(errOut, "NotFound") {
		t.Fatalf("retire an unknown pool: %d %s", code, errOut)
	}
	code, out, errOut := cli(t, b.Addr, "", "pools", "retire", "old", "--force")
	if code != 0 || !strings.Contains(out, "pool old retired (2 keys removed)") {
		t.Fatalf("retire --force: %d %s%s", code, out, errOut)
	}
	code, out, _ = cli(t, b.Addr, "", "pools")
	if code != 0 || strings.Contains(out, "old") || !strings.Contains(out, "kept") {
		t.Fatalf("a retired pool is still listed: %d\n%s", code, out)
	}
	// The removals are in the trail, so the keys' history says why.
	code, out, _ = cli(t, b.Addr, "", "keys", "history", "old", ids[0])
	if code != 0 || !regexpMatch(`active\s+removed\s+removed_by_admin`, out) {
		t.Fatalf("history of a force-retired key: %d\n%s", code, out)
	}
	// Adding a key brings the pool back.
	b.Add(t, "old", "sk-retire-again-0123456789ab")
	if code, out, _ = cli(t, b.Addr, "", "pools", "list"); code != 0 || !regexpMatch(`old\s+1\s+1`, out) {
		t.Fatalf("re-added pool: %d\n%s", code, out)
	}
}

func TestStatusCommand(t *testing.T) {
	b := brokertest.Start(t, nil)
	b.Add(t, "st", "sk-status-0123456789abcdef")
	code, out, errOut := cli(t, b.Addr, "", "status")
	if code != 0 || !strings.Contains(out, "store:   reachable") || !regexpMatch(`st\s+1\s+1\s+0`, out) || !strings.Contains(out, "cli:     (devel)") {
		t.Fatalf("status: %d\n%s%s", code, out, errOut)
	}
	code, out, _ = cli(t, b.Addr, "", "status", "-o", "json")
	var resp pb.GetStatusResponse
	if code != 0 || protojson.Unmarshal([]byte(out), &resp) != nil || !resp.GetStoreReachable() || len(resp.GetPools()) != 1 {
		t.Fatalf("status -o json: %d\n%s", code, out)
	}
}

// TestJSONShapesAgree: a pool printed by `pools` and by `status` is the
// same object, and every field is present, zeros included.
func TestJSONShapesAgree(t *testing.T) {
	b := brokertest.Start(t, nil)
	b.Add(t, "shape", "sk-shape-0123456789abcdef")
	_, pools, _ := cli(t, b.Addr, "", "pools", "shape", "-o", "json") // a flag after the pool name
	_, all, _ := cli(t, b.Addr, "", "pools", "-o", "json")
	_, status, _ := cli(t, b.Addr, "", "status", "-o", "json")
	var a, c struct{ Pools []json.RawMessage }
	var s struct{ Pools []json.RawMessage }
	for _, x := range []struct {
		raw string
		v   any
	}{{pools, &a}, {all, &c}, {status, &s}} {
		if err := json.Unmarshal([]byte(x.raw), x.v); err != nil {
			t.Fatalf("%v: %s", err, x.raw)
		}
	}
	if len(a.Pools) != 1 || len(c.Pools) != 1 || len(s.Pools) != 1 {
		t.Fatalf("pools: %s %s %s", pools, all, status)
	}
	compact := func(r json.RawMessage) string {
		var buf bytes.Buffer
		_ = json.Compact(&buf, r)
		return buf.String()
	}
	if compact(a.Pools[0]) != compact(c.Pools[0]) || compact(a.Pools[0]) != compact(s.Pools[0]) {
		t.Fatalf("one pool, three shapes:\n%s\n%s\n%s", a.Pools[0], c.Pools[0], s.Pools[0])
	}
	if !strings.Contains(compact(a.Pools[0]), `"suspect":"0"`) {
		t.Fatalf("zero counts are left out: %s", a.Pools[0])
	}
	_, keys, _ := cli(t, b.Addr, "", "keys", "list", "--pool", "shape", "-o", "json")
	var listed struct{ Keys []map[string]any }
	if err := json.Unmarshal([]byte(keys), &listed); err != nil || len(listed.Keys) != 1 {
		t.Fatalf("keys list -o json: %v\n%s", err, keys)
	}
	if _, ok := listed.Keys[0]["failureCount"]; !ok {
		t.Fatalf("keys list -o json leaves zero fields out:\n%s", keys)
	}
}

// TestHelpNeverActs: -h on a command prints its usage and does nothing
// else: no token printed, no file named --help opened.
func TestHelpNeverActs(t *testing.T) {
	for _, args := range [][]string{
		{"gen-token", "--help"}, {"hash-token", "-h"}, {"config", "check", "--help"}, {"genkey", "-h"},
		{"version", "-h"}, {"pools", "retire", "-h"}, {"keys", "history", "-h"}, {"status", "-h"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), args, func(string) string { return "" }, strings.NewReader("a-token-read-from-stdin-0123456789"), &stdout, &stderr)
		if code != 0 || stdout.Len() != 0 || !strings.Contains(stderr.String(), "Usage") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, code, stdout.String(), stderr.String())
		}
	}
}

func TestServeHelpReadsWell(t *testing.T) {
	var stdout, stderr bytes.Buffer
	run(context.Background(), []string{"serve", "-h"}, func(string) string { return "" }, nil, &stdout, &stderr)
	help := stderr.String()
	for _, bad := range []string{"-worker keybroker worker", "(default 0660) [", "(default memory) ["} {
		if strings.Contains(help, bad) {
			t.Errorf("serve -h shows %q", bad)
		}
	}
	if !strings.Contains(help, "-unix-socket-mode octal") {
		t.Errorf("serve -h does not name the socket mode's value:\n%s", help)
	}
}

// TestUsageListsEveryCommand: the usage comes from the command table, so
// every command it lists dispatches and every command is listed.
func TestUsageListsEveryCommand(t *testing.T) {
	u := usage(commands())
	for _, c := range commands() {
		names := []string{c.name}
		if len(c.sub) > 0 {
			names = nil
			for _, s := range c.sub {
				names = append(names, s.name)
			}
		}
		for _, n := range names {
			if !strings.Contains(u, "keybroker "+n) {
				t.Errorf("usage does not list %q", n)
			}
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), append(strings.Fields(n), "-h"), func(string) string { return "" }, strings.NewReader(""), &stdout, &stderr); code != 0 {
				t.Errorf("%s -h: exit %d %s", n, code, stderr.String())
			}
		}
	}
}

// TestAdminCommandsIgnoreServeVariables: KEYBROKER_POOL is serve's
// --pool; an admin command must not take it as its own.
func TestAdminCommandsIgnoreServeVariables(t *testing.T) {
	env := map[string]string{"KEYBROKER_POOL": "from-env", "KEYBROKER_ADDR": "127.0.0.1:1", "KEYBROKER_TIMEOUT": "1s"}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"keys", "list"}, func(k string) string { return env[k] }, strings.NewReader(""), &stdout, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), "--pool is required") {
		t.Fatalf("keys list with KEYBROKER_POOL set: exit %d, %s", code, stderr.String())
	}
}

func TestVersionCommand(t *testing.T) {
	var stdout bytes.Buffer
	if code := versionCmd([]string{"-o", "json"}, &stdout, &stdout); code != 0 || !strings.Contains(stdout.String(), `"goVersion"`) {
		t.Fatalf("version -o json: %d %s", code, stdout.String())
	}
}
