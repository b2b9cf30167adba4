package bench

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// results is everything one run measured.
type results struct {
	seed        seedResult
	memory      memoryResult
	throughput  []throughputResult
	size        sizeResult
	resync      resyncResult
	propagation propagationResult
}

// The targets the bench judges its figures against (docs/benchmarks.md).
const (
	targetVsNoop    = 0.85
	targetVsRedis   = 1.5
	targetVsBare    = 0.95 // memory qps over the bare grpc-go server's
	targetP99Bare   = 1.1  // memory p99 over the bare server's, at most
	targetVsSeed    = 1.5  // memory qps over the seed design's
	targetRedisSeed = 1.0  // per-call Redis qps over the seed design's
	targetSizeRatio = 1.2
	targetRSS       = 300 << 20
	targetProp      = 100 * time.Millisecond
)

// write prints the report.
func (r results) write(w io.Writer, cfg Config, cpus int) {
	fmt.Fprintf(w, "keybroker bench: %s %s/%s, %d CPUs shared by the load generators, the brokers and redis-server\n",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, cpus)
	if cfg.Command != "" {
		fmt.Fprintf(w, "command: %s\n", cfg.Command)
	}
	fmt.Fprintf(w, "secrets of %d bytes; compared modes alternate in %d rounds of %s each\n\n", secretLen, cfg.Rounds, cfg.Duration/time.Duration(cfg.Rounds))
	if !cfg.ThroughputOnly {
		r.writeSetup(w)
	}
	r.writeThroughput(w)
	if !cfg.ThroughputOnly {
		r.writeSize(w, cfg)
		r.writeResync(w, cfg)
		r.writePropagation(w, cfg)
	}
	r.writeCost(w)
	r.writeTargets(w, cfg)
}

func (r results) writeSetup(w io.Writer) {
	s, m := r.seed, r.memory
	fmt.Fprintf(w, "Seed: %d keys through store.Add (%d concurrent calls of %d secrets, atomic batches of 500) in %s: %.0f keys/s; redis-server busy %.0f%% of it\n\n",
		s.Keys, seedConcurrency, seedCall, s.Elapsed.Round(time.Millisecond), float64(s.Keys)/s.Elapsed.Seconds(), 100*s.RedisCPU.Seconds()/s.Elapsed.Seconds())
	fmt.Fprintf(w, "Memory: the view of %d keys\n", m.keys)
	fmt.Fprintf(w, "  loaded in       %s (a full resync of the large pool: %s)\n", m.load.Round(time.Millisecond), m.resync.Round(time.Millisecond))
	fmt.Fprintf(w, "  live heap       %.0f B/key (%s before, %s after, each after a GC)\n", m.bytesPerKey(), mb(int64(m.heapBefore)), mb(int64(m.heapAfter)))
	fmt.Fprintf(w, "  process RSS     %s before the view; %s right after loading; %s after returning free memory to the OS\n", mb(m.rssBefore), mb(m.rssLoaded), mb(m.rssFreed))
	fmt.Fprintf(w, "  peak RSS        %s while loading, %s during the full resync\n\n", mbOr(m.peakLoad), mbOr(m.peakResync))
}

func (r results) writeThroughput(w io.Writer) {
	fmt.Fprintln(w, "Throughput: GetRandom on the 10-key pool. References: bare = a grpc-go server with no interceptors answering canned responses of the same size;")
	fmt.Fprintln(w, "seed = the seed design, one SRANDMEMBER per call on a plain set, no interceptors. Broker modes: memory (default) and redis (--selection-source redis);")
	fmt.Fprintln(w, "no-op = grpc.health.v1 Check on the memory broker, through its interceptors")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "callers\tserver\tqps\tp50\tp99\t/bare\t/seed\t")
	for _, t := range r.throughput {
		for _, m := range t.modes() {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%.2f\t%.2f\t\n", t.callers, m.name, row(m.r), ratio(m.r.qps(), t.bare.qps()), ratio(m.r.qps(), t.seed.qps()))
		}
	}
	tw.Flush()
	fmt.Fprintln(w)
}

// namedMode is one row of a throughput comparison.
type namedMode struct {
	name string
	r    modeResult
}

// modes lists the compared servers in report order.
func (t throughputResult) modes() []namedMode {
	return []namedMode{{"bare", t.bare}, {"seed", t.seed}, {"no-op", t.noop}, {"memory", t.memory}, {"redis", t.redis}}
}

func (r results) writeSize(w io.Writer, cfg Config) {
	s := r.size
	fmt.Fprintf(w, "Pool size: GetRandom at %d callers, and the view's Pick alone in process\n", cfg.SizeCallers)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "keys\tqps\tp50\tp99\tPick ns\tPick allocs\t")
	fmt.Fprintf(tw, "%d\t%s\t%d\t%.1f\t\n", smallKeys, row(s.small), s.pickSmall.Nanoseconds(), s.allocSmall)
	fmt.Fprintf(tw, "%d\t%s\t%d\t%.1f\t\n", cfg.Keys, row(s.large), s.pickLarge.Nanoseconds(), s.allocLarge)
	tw.Flush()
	fmt.Fprintf(w, "cost ratio %d keys / %d keys: %.2f per RPC (time per call at equal concurrency), %.2f for Pick alone\n",
		cfg.Keys, smallKeys, r.sizeRatio(), ratio(float64(s.pickLarge), float64(s.pickSmall)))
	fmt.Fprintf(w, "the in-process picks left lease counts on %d keys; flushing them to Redis took %s, %.1fµs of redis-server CPU per key\n\n",
		s.flushed, s.flush.Round(time.Millisecond), float64(s.flushRedis.Microseconds())/float64(max(s.flushed, 1)))
}

// sizeRatio is the RPC cost at the large pool over the small one.
func (r results) sizeRatio() float64 { return ratio(r.size.small.qps(), r.size.large.qps()) }

func (r results) writeResync(w io.Writer, cfg Config) {
	s := r.resync
	fmt.Fprintf(w, "Resync: GetRandom at %d callers on the %d-key pool, alone and while a full resync of that pool runs (one takes %s when idle)\n",
		cfg.SizeCallers, cfg.Keys, r.memory.resync.Round(time.Millisecond))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\tqps\tp50\tp99\t")
	fmt.Fprintf(tw, "alone\t%s\t\n", row(s.plain))
	fmt.Fprintf(tw, "during resyncs\t%s\t\n", row(s.during))
	tw.Flush()
	fmt.Fprintln(w)
}

func (r results) writePropagation(w io.Writer, cfg Config) {
	p := r.propagation
	var ops []string
	for _, op := range []string{"ReportFailure", "Remove", "Add"} {
		ops = append(ops, fmt.Sprintf("%s %d", op, p.byOp[op]))
	}
	fmt.Fprintf(w, "Propagation: a change through broker A (%s), from the start of the call until broker B's view shows it, while B serves GetRandom to %d callers (%.0f qps, p99 %s)\n",
		strings.Join(ops, ", "), cfg.SizeCallers, p.load.qps(), dur(p.load.latency.quantile(0.99)))
	fmt.Fprintf(w, "  %d changes: p50 %s, p99 %s, max %s\n\n", p.delays.N, dur(p.delays.quantile(0.5)), dur(p.delays.quantile(0.99)), dur(p.max))
}

func (r results) writeCost(w io.Writer) {
	fmt.Fprintln(w, "Server-side cost per call: the serving process's CPU time and heap allocations over each window (the servers share the bench process, one loaded at a time; load generators run in other processes), and redis-server's CPU time")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "callers\tserver\tCPU µs\tallocs\tredis CPU µs\t")
	for _, t := range r.throughput {
		for _, m := range t.modes() {
			fmt.Fprintf(tw, "%d\t%s\t%.1f\t%.1f\t%.1f\t\n", t.callers, m.name,
				m.r.perCall(float64(m.r.cost.cpu.Microseconds())), m.r.perCall(float64(m.r.cost.allocs)), m.r.perCall(float64(m.r.cost.redisCPU.Microseconds())))
		}
	}
	tw.Flush()
	fmt.Fprintln(w)
}

func (r results) writeTargets(w io.Writer, cfg Config) {
	fmt.Fprintln(w, "Targets")
	for _, t := range r.throughput {
		if t.callers < 16 {
			continue
		}
		c := t.callers
		got := ratio(t.memory.qps(), t.bare.qps())
		verdict(w, got >= targetVsBare, "memory ≥ %.2f × bare qps at %d callers: %.2f", targetVsBare, c, got)
		p99, bare99 := t.memory.latency.quantile(0.99), t.bare.latency.quantile(0.99)
		got = ratio(float64(p99), float64(bare99))
		verdict(w, got <= targetP99Bare, "memory p99 ≤ %.1f × bare p99 at %d callers: %s vs %s, %.2f", targetP99Bare, c, dur(p99), dur(bare99), got)
		got = ratio(t.memory.qps(), t.seed.qps())
		verdict(w, got >= targetVsSeed, "memory ≥ %.1f × seed qps at %d callers: %.2f", targetVsSeed, c, got)
		got = ratio(t.redis.qps(), t.seed.qps())
		verdict(w, got >= targetRedisSeed, "redis mode ≥ %.1f × seed qps at %d callers: %.2f", targetRedisSeed, c, got)
		got = ratio(t.memory.qps(), t.noop.qps())
		verdict(w, got >= targetVsNoop, "memory ≥ %.2f × no-op at %d callers: %.2f", targetVsNoop, c, got)
	}
	for _, t := range r.throughput {
		got := ratio(t.memory.qps(), t.redis.qps())
		verdict(w, got >= targetVsRedis, "memory ≥ %.1f × per-call Redis at %d callers: %.2f", targetVsRedis, t.callers, got)
	}
	if cfg.ThroughputOnly {
		return
	}
	verdict(w, r.sizeRatio() <= targetSizeRatio, "GetRandom cost at %d keys ≤ %.1f × at %d keys: %.2f", r.seed.Keys, targetSizeRatio, smallKeys, r.sizeRatio())
	peak := max(r.memory.peakLoad, r.memory.peakResync, r.memory.rssLoaded)
	verdict(w, peak <= targetRSS, "broker RSS ≤ %s with %d keys: peak %s (load generators and seeding in other processes)", mb(targetRSS), r.memory.keys, mb(peak))
	p99 := r.propagation.delays.quantile(0.99)
	verdict(w, p99 <= targetProp, "propagation p99 ≤ %s: %s", dur(targetProp), dur(p99))
}

func verdict(w io.Writer, ok bool, format string, args ...any) {
	mark := "met   "
	if !ok {
		mark = "MISSED"
	}
	fmt.Fprintf(w, "  [%s] %s\n", mark, fmt.Sprintf(format, args...))
}

// row is "qps\tp50\tp99" of a mode.
func row(m modeResult) string {
	return fmt.Sprintf("%.0f\t%s\t%s", m.qps(), dur(m.latency.quantile(0.5)), dur(m.latency.quantile(0.99)))
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// dur prints a latency with three significant digits.
func dur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.0fµs", float64(d)/1e3)
	}
}

func mb(b int64) string { return fmt.Sprintf("%.0f MB", float64(b)/(1<<20)) }

func mbOr(b int64) string {
	if b == 0 {
		return "n/a"
	}
	return mb(b)
}
