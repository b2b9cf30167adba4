package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/keybroker/keybroker/internal/bench"
)

// benchCmd runs `keybroker bench`, or one of its load generators when the
// bench started this process as its child.
func benchCmd(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	if spec := getenv(bench.ChildEnv); spec != "" {
		return bench.RunChild(spec, stdin, stdout)
	}
	cfg := bench.DefaultConfig()
	fs := newFlagSet("keybroker bench", stderr)
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "measured time of each compared mode at each step, split over --rounds")
	fs.IntVar(&cfg.Rounds, "rounds", cfg.Rounds, "how many times compared modes alternate within a step")
	fs.IntVar(&cfg.Keys, "keys", cfg.Keys, "keys in the large pool")
	callers := fs.String("callers", "1,16,64", "concurrent callers of the throughput step, comma-separated")
	fs.IntVar(&cfg.SizeCallers, "size-callers", cfg.SizeCallers, "concurrent callers of the pool-size and resync steps and of the load during propagation")
	fs.IntVar(&cfg.PropagationSamples, "propagation-samples", cfg.PropagationSamples, "changes timed by the propagation step")
	fs.StringVar(&cfg.ProfileDir, "profile-dir", "", "write CPU and allocation profiles of every throughput window to this directory")
	fs.BoolVar(&cfg.ThroughputOnly, "throughput-only", false, "run only the throughput step (references, memory and per-call Redis), without the large pool")
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err == nil {
		cfg.Callers, err = parseCallers(*callers)
	}
	if err == nil && (cfg.Duration <= 0 || cfg.Rounds < 1 || cfg.Keys < 1 || cfg.SizeCallers < 1 || cfg.PropagationSamples < 1) {
		err = errors.New("--duration, --rounds, --keys, --size-callers and --propagation-samples must be positive")
	}
	if err != nil {
		fmt.Fprintf(stderr, "keybroker bench: %v\n", err)
		return 2
	}
	cfg.Command = strings.Join(append([]string{"keybroker", "bench"}, args...), " ")
	if err := bench.Run(ctx, cfg, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "keybroker bench: %v\n", err)
		return 1
	}
	return 0
}

// parseCallers reads a comma-separated list of positive counts.
func parseCallers(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("--callers %q: want positive counts separated by commas", s)
		}
		out = append(out, n)
	}
	return out, nil
}
