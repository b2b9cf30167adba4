package bench

import (
	"context"
	"sync"
	"time"
)

// variant is one side of a comparison: a load job, and optionally work
// that runs on the server side while it does (a resync loop).
type variant struct {
	job    job
	during func(ctx context.Context)
	// label names the variant's profiles (Config.ProfileDir); "" takes none.
	label string
}

// modeResult is what one variant measured over every round.
type modeResult struct {
	calls   int64
	elapsed time.Duration
	latency *histogram
	cost    cost
}

func (m *modeResult) add(r loadResult, c cost) {
	if m.latency == nil {
		m.latency = newHistogram()
	}
	m.calls += r.Calls
	m.elapsed += r.Elapsed
	m.latency.merge(r.Latency)
	m.cost.add(c)
}

// qps is calls per second.
func (m modeResult) qps() float64 {
	if m.elapsed <= 0 {
		return 0
	}
	return float64(m.calls) / m.elapsed.Seconds()
}

// perCall divides a server-side total by the calls.
func (m modeResult) perCall(total float64) float64 {
	if m.calls == 0 {
		return 0
	}
	return total / float64(m.calls)
}

// compare runs the variants in cfg.Rounds interleaved rounds of
// Duration/Rounds each and returns their results in order.
func (b *bench) compare(ctx context.Context, vs []variant) ([]modeResult, error) {
	out := make([]modeResult, len(vs))
	window := b.cfg.Duration / time.Duration(b.cfg.Rounds)
	warmup := min(max(window/5, 50*time.Millisecond), 300*time.Millisecond)
	for round := range b.cfg.Rounds {
		for i, v := range vs {
			j := v.job
			j.Warmup, j.Duration = warmup, window
			stop := b.profile(v.label, j.Callers, round)
			res, c, err := b.runVariant(ctx, j, v.during)
			stop()
			if err != nil {
				return nil, err
			}
			out[i].add(res, c)
			// Write this window's lease counts now, between windows, so
			// that their cost (a Redis write per key leased: almost every
			// lease on the large pool) does not fall on the next variant.
			b.a.view.Flush(ctx)
		}
	}
	return out, nil
}

// runVariant runs one load window with the variant's server-side work.
func (b *bench) runVariant(ctx context.Context, j job, during func(context.Context)) (loadResult, cost, error) {
	if during == nil {
		return runLoad(ctx, b.exe, j, b.redis.Pid())
	}
	dctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); during(dctx) }()
	res, c, err := runLoad(ctx, b.exe, j, b.redis.Pid())
	cancel()
	wg.Wait()
	return res, c, err
}
