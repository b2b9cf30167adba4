package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"strings"
	"testing"
)

func TestRunCommands(t *testing.T) {
	tests := []struct {
		args []string
		code int
		out  string
	}{
		{nil, 2, "Usage"},
		{[]string{"version"}, 0, "keybroker dev"},
		{[]string{"help"}, 0, "keybroker serve"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"serve", "-h"}, 0, "KEYBROKER_REDIS"},
		{[]string{"serve", "-h"}, 0, "KEYBROKER_WORKER_CONCURRENCY"},
		{[]string{"worker", "-h"}, 0, "KEYBROKER_WORKER_POLL"},
		{[]string{"worker"}, 1, "--redis is required"},
		{[]string{"worker", "--worker-concurrency", "0"}, 2, "--worker-concurrency 0"},
		{[]string{"serve", "--worker-poll", "0s"}, 2, "--worker-poll 0s"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), tt.args, func(string) string { return "" }, &stdout, &stderr)
		if code != tt.code || !strings.Contains(stdout.String()+stderr.String(), tt.out) {
			t.Errorf("run(%q) = %d, %q; want %d and %q", tt.args, code, stdout.String()+stderr.String(), tt.code, tt.out)
		}
	}
}

func TestEnvFillsFlagsAndFlagsWin(t *testing.T) {
	env := map[string]string{"KEYBROKER_LISTEN": "unix:/tmp/x.sock", "KEYBROKER_REDIS": "a:1, b:2", "KEYBROKER_POOL": "env-pool"}
	f, err := parseServeFlags([]string{"--pool", "flag-pool"}, func(k string) string { return env[k] }, newFlagSet())
	if err != nil {
		t.Fatal(err)
	}
	if f.listen != "unix:/tmp/x.sock" || f.pool != "flag-pool" || strings.Join(f.redisAddrs(), "|") != "a:1|b:2" || !f.worker {
		t.Fatalf("flags = %+v", f)
	}
	env["KEYBROKER_WORKER"] = "false"
	f, err = parseServeFlags(nil, func(k string) string { return env[k] }, newFlagSet())
	if err != nil || f.worker {
		t.Fatalf("KEYBROKER_WORKER=false: worker %v, %v", f.worker, err)
	}
}

func newFlagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}
