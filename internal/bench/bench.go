// Package bench is `keybroker bench`: it starts everything it needs on
// loopback (a redis-server of its own, in-process brokers wired as
// `keybroker serve` wires them, load generators in child processes) and
// prints, from one run, GetRandom's throughput and latency against a
// no-op RPC of the same server and against the per-call Redis mode, its
// cost at 10 and at a million keys, the memory a million keys take,
// cross-replica propagation delays and the server-side CPU time and
// allocations per call, with the targets of docs/benchmarks.md judged on them.
//
// Comparisons are measured side by side in interleaved rounds, so that
// noise from other work on the machine falls on both sides alike.
package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"time"

	"github.com/keybroker/keybroker/internal/redisproc"
)

// Config is one bench run's settings.
type Config struct {
	// Duration is the measured time of each compared mode at each step,
	// split over Rounds interleaved rounds.
	Duration time.Duration
	// Rounds is how many times compared modes alternate within a step.
	Rounds int
	// Keys is the size of the large pool.
	Keys int
	// Callers are the concurrency levels of the throughput step.
	Callers []int
	// SizeCallers is the concurrency of the 10-versus-Keys step, the
	// resync step and the load during propagation.
	SizeCallers int
	// PropagationSamples is how many changes the propagation step times.
	PropagationSamples int
	// Command is the command line, printed with the results.
	Command string
	// ThroughputOnly skips the pool-size, resync and propagation steps
	// (and the large pool, which only they use).
	ThroughputOnly bool
	// ProfileDir, when set, receives a CPU profile and the allocations of
	// every throughput window of the broker modes and the references
	// (<server>-c<callers>-r<round>.cpu.pprof, .allocs.pprof with its
	// .base.pprof), for `go tool pprof -base`.
	ProfileDir string
}

// DefaultConfig is the full bench: about three minutes on two cores.
func DefaultConfig() Config {
	return Config{
		Duration:           5 * time.Second,
		Rounds:             5,
		Keys:               1_000_000,
		Callers:            []int{1, 16, 64},
		SizeCallers:        16,
		PropagationSamples: 500,
	}
}

// Pool names and sizes.
const (
	poolSmall     = "bench-small"
	poolLarge     = "bench-large"
	poolProp      = "bench-prop"
	smallKeys     = 10
	propKeys      = 100
	startupBudget = 10 * time.Minute // seeding and loading a million keys
)

// bench is one run in progress.
type bench struct {
	cfg      Config
	exe      string
	dir      string // redis-server's scratch directory
	redis    *redisproc.Server
	log      *slog.Logger // the brokers' log, at serve's default level
	progress io.Writer
	a, r, b  *replica   // memory mode, per-call Redis mode, second memory replica
	bare     *refServer // grpc-go alone, canned responses
	seedRef  *refServer // the seed design, one SRANDMEMBER per call
	res      results
}

// Run runs the bench and writes the report to out, progress to progress.
func Run(ctx context.Context, cfg Config, out, progress io.Writer) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own binary for the load generators: %w", err)
	}
	b := &bench{cfg: cfg, exe: exe, progress: progress,
		log: slog.New(slog.NewTextHandler(progress, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	defer b.close()
	if err := b.setup(ctx); err != nil {
		return err
	}
	steps := []func(context.Context) error{b.throughput, b.size, b.resyncStep, b.propagation}
	if cfg.ThroughputOnly {
		steps = steps[:1]
	}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return err
		}
	}
	b.res.write(out, cfg, runtime.NumCPU())
	return nil
}

// say reports progress.
func (b *bench) say(format string, args ...any) {
	fmt.Fprintf(b.progress, "bench: "+format+"\n", args...)
}

// setup starts Redis, seeds the pools and starts the two compared brokers,
// measuring what loading the large pool costs.
func (b *bench) setup(ctx context.Context) error {
	bin, err := redisproc.Binary()
	if err != nil {
		return err
	}
	if b.dir, err = os.MkdirTemp("", "keybroker-bench"); err != nil {
		return err
	}
	if b.redis, err = redisproc.Start(bin, b.dir); err != nil {
		return err
	}
	if err := b.startRefs(ctx); err != nil {
		return err
	}
	if !b.cfg.ThroughputOnly {
		b.say("redis-server on %s; seeding %d keys", b.redis.Addr, b.cfg.Keys)
		if err := b.seed(ctx); err != nil {
			return err
		}
	}
	if b.r, err = startReplica(ctx, b.redis.Addr, false, b.log); err != nil {
		return err
	}
	for pool, n := range map[string]int{poolSmall: smallKeys, poolProp: propKeys} {
		secrets := make([]string, n)
		for i := range secrets {
			secrets[i] = benchSecret(pool, i)
		}
		if _, err := b.r.store.Add(ctx, pool, secrets); err != nil {
			return err
		}
	}
	if b.cfg.ThroughputOnly {
		if b.a, err = startReplica(ctx, b.redis.Addr, true, b.log); err != nil {
			return err
		}
		lctx, cancel := context.WithTimeout(ctx, startupBudget)
		defer cancel()
		return b.a.waitLoaded(lctx, poolSmall, smallKeys)
	}
	return b.memory(ctx)
}

// seed fills the large pool from a child process, so that the garbage of a
// million Adds never lands in the brokers' memory.
func (b *bench) seed(ctx context.Context) error {
	before := takeSample(b.redis.Pid())
	r, err := launch(ctx, b.exe, job{Kind: "seed", Addr: b.redis.Addr, Pool: poolLarge, Keys: b.cfg.Keys})
	if err != nil {
		return err
	}
	var res seedResult
	if err := r.result(&res); err != nil {
		return err
	}
	res.RedisCPU = takeSample(b.redis.Pid()).since(before).redisCPU
	b.res.seed = res
	return nil
}

func (b *bench) close() {
	for _, r := range []*replica{b.a, b.b, b.r} {
		if r != nil {
			r.stop()
		}
	}
	for _, r := range []*refServer{b.bare, b.seedRef} {
		if r != nil {
			r.stop()
		}
	}
	if b.redis != nil {
		b.redis.Stop()
	}
	if b.dir != "" {
		os.RemoveAll(b.dir)
	}
}
