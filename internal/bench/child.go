package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
)

// ChildEnv carries a child's job. The bench runs its load generators (and
// the seeding of the large pool) in child processes of its own binary, so
// that the CPU time and allocations of the parent are the servers' alone.
const ChildEnv = "KEYBROKER_BENCH_CHILD"

// Load methods.
const (
	methodGetRandom = "getrandom"
	methodNoop      = "noop" // grpc.health.v1 Check: the same server, no work
)

// job is what one child does: generate load against a gRPC server, or
// seed a pool in Redis.
type job struct {
	Kind    string `json:"kind"` // "load" or "seed"
	Addr    string `json:"addr"` // gRPC server (load) or Redis (seed)
	Method  string `json:"method,omitempty"`
	Pool    string `json:"pool"`
	Callers int    `json:"callers,omitempty"`
	// Warmup runs before the measured window; Duration is the window, 0
	// meaning until standard input closes.
	Warmup   time.Duration `json:"warmup,omitempty"`
	Duration time.Duration `json:"duration,omitempty"`
	Keys     int           `json:"keys,omitempty"` // seed
}

// loadResult is what a load child measured in its window.
type loadResult struct {
	Calls    int64         `json:"calls"`
	Errors   int64         `json:"errors"`
	FirstErr string        `json:"first_err,omitempty"`
	Elapsed  time.Duration `json:"elapsed"`
	Latency  *histogram    `json:"latency"`
}

// Child markers on standard output, around the measured window.
const (
	markStart = "start"
	markStop  = "stop"
)

// RunChild does the job in $KEYBROKER_BENCH_CHILD and returns the exit
// code. `keybroker bench` calls it when started as a child.
func RunChild(spec string, stdin io.Reader, stdout io.Writer) int {
	var j job
	if err := json.Unmarshal([]byte(spec), &j); err != nil {
		fmt.Fprintf(os.Stderr, "bench child: bad job: %v\n", err)
		return 2
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // the parent closes our stdin to stop us, or by dying
		_, _ = io.Copy(io.Discard, stdin)
		cancel()
	}()
	var err error
	switch j.Kind {
	case "load":
		err = generateLoad(ctx, j, stdout)
	case "seed":
		err = runSeed(ctx, j, stdout)
	default:
		err = fmt.Errorf("unknown job kind %q", j.Kind)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench child: %v\n", err)
		return 1
	}
	return 0
}

// generateLoad keeps Callers calls in flight on one connection, as a client
// process would, and reports the calls that completed in the window.
func generateLoad(ctx context.Context, j job, stdout io.Writer) error {
	conn, err := grpc.NewClient(j.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("connect to %s: %w", j.Addr, err)
	}
	defer conn.Close()
	call := caller(conn, j)
	var measuring atomic.Bool
	var stop atomic.Bool
	results := make([]*loadResult, j.Callers)
	var wg sync.WaitGroup
	for i := range j.Callers {
		results[i] = &loadResult{Latency: newHistogram()}
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Calls are not cancelled with ctx: the window ends first, and
			// then the callers stop after their call in flight.
			worker(context.WithoutCancel(ctx), call, results[i], &measuring, &stop)
		}()
	}
	w := bufio.NewWriter(stdout)
	sleepCtx(ctx, j.Warmup)
	start := time.Now()
	measuring.Store(true)
	fmt.Fprintln(w, markStart)
	w.Flush()
	if j.Duration > 0 {
		sleepCtx(ctx, j.Duration)
	} else {
		<-ctx.Done()
	}
	measuring.Store(false)
	fmt.Fprintln(w, markStop)
	w.Flush()
	elapsed := time.Since(start)
	stop.Store(true)
	wg.Wait()
	total := &loadResult{Latency: newHistogram(), Elapsed: elapsed}
	for _, r := range results {
		total.Calls += r.Calls
		total.Errors += r.Errors
		total.Latency.merge(r.Latency)
		if total.FirstErr == "" {
			total.FirstErr = r.FirstErr
		}
	}
	return json.NewEncoder(stdout).Encode(total)
}

// caller returns one call of the job's method.
func caller(conn *grpc.ClientConn, j job) func(context.Context) error {
	if j.Method == methodNoop {
		hc := healthpb.NewHealthClient(conn)
		req := &healthpb.HealthCheckRequest{}
		return func(ctx context.Context) error { _, err := hc.Check(ctx, req); return err }
	}
	kc := pb.NewKeyBrokerServiceClient(conn)
	req := &pb.GetRandomRequest{Pool: j.Pool}
	return func(ctx context.Context) error { _, err := kc.GetRandom(ctx, req); return err }
}

// worker calls in a loop, recording the calls that complete while
// measuring is set.
func worker(ctx context.Context, call func(context.Context) error, r *loadResult, measuring, stop *atomic.Bool) {
	for !stop.Load() {
		t0 := time.Now()
		err := call(ctx)
		d := time.Since(t0)
		if !measuring.Load() {
			continue
		}
		if err != nil {
			if r.Errors == 0 {
				r.FirstErr = err.Error()
			}
			r.Errors++
			continue
		}
		r.Calls++
		r.Latency.record(d)
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
