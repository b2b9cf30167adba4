package bench

import (
	"context"
	"runtime/metrics"
	"time"

	"github.com/keybroker/keybroker/internal/view"
)

// throughputResult compares, at one concurrency, GetRandom from memory
// and in per-call Redis mode with the two references (a bare grpc-go
// server, the seed design) and with a no-op RPC of the memory broker.
type throughputResult struct {
	callers                         int
	bare, seed, noop, memory, redis modeResult
}

// throughput runs the references and the broker's modes side by side at
// each concurrency, on the 10-key pool.
func (b *bench) throughput(ctx context.Context) error {
	for _, c := range b.cfg.Callers {
		b.say("throughput at %d callers", c)
		got, err := b.compare(ctx, []variant{
			{job: job{Addr: b.bare.addr, Method: methodGetRandom, Pool: poolSmall, Callers: c}, label: "bare"},
			{job: job{Addr: b.seedRef.addr, Method: methodGetRandom, Pool: poolSmall, Callers: c}, label: "seed"},
			{job: job{Addr: b.a.addr, Method: methodNoop, Callers: c}, label: "noop"},
			{job: job{Addr: b.a.addr, Method: methodGetRandom, Pool: poolSmall, Callers: c}, label: "memory"},
			{job: job{Addr: b.r.addr, Method: methodGetRandom, Pool: poolSmall, Callers: c}, label: "redis"},
		})
		if err != nil {
			return err
		}
		b.res.throughput = append(b.res.throughput, throughputResult{callers: c,
			bare: got[0], seed: got[1], noop: got[2], memory: got[3], redis: got[4]})
	}
	return nil
}

// sizeResult compares GetRandom on the 10-key pool with the large pool, at
// the RPC and in process.
type sizeResult struct {
	small, large           modeResult
	pickSmall, pickLarge   time.Duration // in-process Pick, per call
	allocSmall, allocLarge float64       // in-process Pick, allocations per call
	flushed                int           // usage records written after the picks
	flush                  time.Duration // how long writing them took
	flushRedis             time.Duration // redis-server's CPU time meanwhile
}

// pickRounds is how many in-process picks one round makes per pool.
const pickRounds = 1_000_000

// size runs GetRandom on the small and the large pool side by side, then
// times the view's Pick alone on each.
func (b *bench) size(ctx context.Context) error {
	b.say("10 keys against %d keys", b.cfg.Keys)
	got, err := b.compare(ctx, []variant{
		{job: job{Addr: b.a.addr, Method: methodGetRandom, Pool: poolSmall, Callers: b.cfg.SizeCallers}},
		{job: job{Addr: b.a.addr, Method: methodGetRandom, Pool: poolLarge, Callers: b.cfg.SizeCallers}},
	})
	if err != nil {
		return err
	}
	s := sizeResult{small: got[0], large: got[1]}
	var tSmall, tLarge time.Duration
	var aSmall, aLarge uint64
	for range b.cfg.Rounds {
		d, a := pickCost(ctx, b.a.view, poolSmall)
		tSmall, aSmall = tSmall+d, aSmall+a
		d, a = pickCost(ctx, b.a.view, poolLarge)
		tLarge, aLarge = tLarge+d, aLarge+a
	}
	n := time.Duration(b.cfg.Rounds * pickRounds)
	s.pickSmall, s.pickLarge = tSmall/n, tLarge/n
	s.allocSmall, s.allocLarge = float64(aSmall)/float64(n), float64(aLarge)/float64(n)
	// The in-process picks touched most keys of the large pool; writing
	// their lease counts now keeps that backlog out of the next steps, and
	// says what flushing usage for that many keys costs.
	before, start := takeSample(b.redis.Pid()), time.Now()
	s.flushed = b.a.view.Flush(ctx)
	s.flush, s.flushRedis = time.Since(start), takeSample(b.redis.Pid()).since(before).redisCPU
	b.res.size = s
	return nil
}

// pickCost times pickRounds in-process picks and counts their allocations.
func pickCost(ctx context.Context, v *view.View, pool string) (time.Duration, uint64) {
	before := allocsNow()
	start := time.Now()
	for range pickRounds {
		_, _ = v.Pick(ctx, pool)
	}
	return time.Since(start), allocsNow() - before
}

func allocsNow() uint64 {
	ms := append([]metrics.Sample(nil), allocMetrics...)
	metrics.Read(ms)
	return ms[0].Value.Uint64() + ms[1].Value.Uint64()
}

// resyncResult compares GetRandom on the large pool with and without a
// full resync of it running.
type resyncResult struct {
	plain, during modeResult
}

// resyncStep shows whether a full resync stalls GetRandom: in every
// "during" window a resync of the large pool runs (restarted when one
// completes, cancelled when the window ends).
func (b *bench) resyncStep(ctx context.Context) error {
	b.say("GetRandom during full resyncs of %d keys", b.cfg.Keys)
	loop := func(ctx context.Context) {
		for ctx.Err() == nil {
			_ = b.a.view.Resync(ctx, poolLarge)
		}
	}
	j := job{Addr: b.a.addr, Method: methodGetRandom, Pool: poolLarge, Callers: b.cfg.SizeCallers}
	got, err := b.compare(ctx, []variant{{job: j}, {job: j, during: loop}})
	if err != nil {
		return err
	}
	b.res.resync = resyncResult{plain: got[0], during: got[1]}
	return nil
}
