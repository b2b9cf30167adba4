package main

import (
	"bytes"
	"context"
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
		{[]string{"version"}, 0, "keybroker (devel)"},
		{[]string{"serve", "--selection-source", "disk"}, 2, "want memory or redis"},
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
		code := run(context.Background(), tt.args, func(string) string { return "" }, strings.NewReader(""), &stdout, &stderr)
		if code != tt.code || !strings.Contains(stdout.String()+stderr.String(), tt.out) {
			t.Errorf("run(%q) = %d, %q; want %d and %q", tt.args, code, stdout.String()+stderr.String(), tt.code, tt.out)
		}
	}
}

func TestEnvFillsFlagsAndFlagsWin(t *testing.T) {
	env := map[string]string{"KEYBROKER_LISTEN": "unix:/tmp/x.sock", "KEYBROKER_REDIS": "a:1, b:2", "KEYBROKER_POOL": "env-pool"}
	f := &serveFlags{}
	fs := newFlagSet("test", io.Discard)
	f.register(fs)
	if err := parseFlags(fs, []string{"--pool", "flag-pool"}, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if f.listen != "unix:/tmp/x.sock" || f.pool != "flag-pool" || strings.Join(f.addrs(), "|") != "a:1|b:2" || !f.worker {
		t.Fatalf("flags = %+v", f)
	}
	env["KEYBROKER_WORKER"] = "false"
	f = &serveFlags{}
	if err := parseInto(f, nil, func(k string) string { return env[k] }, newFlagSet("test", io.Discard)); err != nil || f.worker {
		t.Fatalf("KEYBROKER_WORKER=false: worker %v, %v", f.worker, err)
	}
}
