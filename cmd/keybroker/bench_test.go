package main

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestBenchSmoke runs `keybroker bench` with tiny settings: every step
// runs (children, brokers, its own redis-server) and the report has every
// section. Its numbers mean nothing at this size and are not judged.
func TestBenchSmoke(t *testing.T) {
	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errs bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "bench", "--duration", "150ms", "--rounds", "1", "--keys", "300",
		"--callers", "1,16", "--size-callers", "4", "--propagation-samples", "8")
	cmd.Stdout, cmd.Stderr = &out, &errs
	if err := cmd.Run(); err != nil {
		t.Fatalf("keybroker bench: %v\n%s\n%s", err, errs.String(), out.String())
	}
	for _, want := range []string{
		"command: keybroker bench --duration 150ms",
		"Seed: 300 keys", "Memory: the view of 410 keys", "B/key",
		"Throughput:", "/bare", "/seed", "bare", "seed", "no-op",
		"Pool size:", "cost ratio 300 keys / 10 keys",
		"Resync:", "during resyncs",
		"Propagation:", "8 changes: p50",
		"Server-side cost per call", "redis CPU µs",
		"Targets", "memory ≥ 0.95 × bare qps at 16 callers", "memory p99 ≤ 1.1 × bare p99 at 16 callers",
		"memory ≥ 1.5 × seed qps at 16 callers", "redis mode ≥ 1.0 × seed qps at 16 callers", "propagation p99",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

func TestBenchRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{{"--callers", "1,x"}, {"--keys", "0"}, {"--rounds", "-1"}} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), append([]string{"bench"}, args...), func(string) string { return "" }, strings.NewReader(""), &stdout, &stderr)
		if code != 2 {
			t.Errorf("bench %q = %d (%s), want 2", args, code, stderr.String())
		}
	}
}
