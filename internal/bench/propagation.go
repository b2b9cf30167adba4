package bench

import (
	"context"
	"fmt"
	"time"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
)

// propagationResult is how long changes made through one broker took to
// show in another's view, while that one served GetRandom under load.
type propagationResult struct {
	delays *histogram
	max    time.Duration
	byOp   map[string]int
	load   modeResult // GetRandom on the observing broker meanwhile
}

// propagationPoll is how often the observer's view is checked: fine enough
// next to the 100 ms target, coarse enough not to steal the CPU the load
// needs.
const propagationPoll = 100 * time.Microsecond

// propagation starts a second memory-mode broker, puts it under GetRandom
// load, and times changes made through the first (ReportFailure, Remove,
// Add) from the start of the call until the second's view reflects them.
func (b *bench) propagation(ctx context.Context) error {
	var err error
	if b.b, err = startReplica(ctx, b.redis.Addr, true, b.log); err != nil {
		return err
	}
	if err := b.b.waitAllLoaded(ctx, b.cfg.Keys); err != nil {
		return err
	}
	b.say("propagation: %d changes under %d-caller load", b.cfg.PropagationSamples, b.cfg.SizeCallers)
	load, err := startLoad(ctx, b.exe, job{Addr: b.b.addr, Method: methodGetRandom, Pool: poolProp, Callers: b.cfg.SizeCallers, Warmup: 200 * time.Millisecond}, b.redis.Pid())
	if err != nil {
		return err
	}
	res := propagationResult{delays: newHistogram(), byOp: map[string]int{}}
	if err := b.changes(ctx, &res); err != nil {
		_, _, _ = load.finish()
		return err
	}
	lr, c, err := load.finish()
	if err != nil {
		return err
	}
	res.load.add(lr, c)
	b.res.propagation = res
	return nil
}

// step is one change through broker A and what broker B must then show.
type step struct {
	op      string
	present bool // whether B must lease the key afterwards
	timed   bool
}

// cycle walks a key through every kind of change: parked by a report,
// removed (untimed: B already dropped it), added back, removed, added.
var cycle = []step{
	{"ReportFailure", false, true},
	{"Remove", false, false},
	{"Add", true, true},
	{"Remove", false, true},
	{"Add", true, true},
}

// changes makes PropagationSamples timed changes on rotating keys.
func (b *bench) changes(ctx context.Context, res *propagationResult) error {
	for n, i := 0, 0; n < b.cfg.PropagationSamples; i++ {
		k := (i / len(cycle)) % propKeys
		st := cycle[i%len(cycle)]
		secret := benchSecret(poolProp, k)
		id := b.a.store.KeyID(secret)
		start := time.Now()
		if err := b.change(ctx, st.op, secret, id); err != nil {
			return fmt.Errorf("propagation %s: %w", st.op, err)
		}
		if !st.timed {
			continue
		}
		if err := b.waitObserved(ctx, id, st.present); err != nil {
			return err
		}
		d := time.Since(start)
		res.delays.record(d)
		res.max = max(res.max, d)
		res.byOp[st.op]++
		n++
	}
	return nil
}

// change makes one change through broker A's gRPC API.
func (b *bench) change(ctx context.Context, op, secret, id string) error {
	var err error
	switch op {
	case "ReportFailure":
		_, err = b.a.client.ReportFailure(ctx, &pb.ReportFailureRequest{Pool: poolProp, Key: &pb.ReportFailureRequest_KeyId{KeyId: id}, HttpStatus: 429})
	case "Remove":
		_, err = b.a.client.Remove(ctx, &pb.RemoveRequest{Pool: poolProp, KeyIds: []string{id}})
	case "Add":
		_, err = b.a.client.Add(ctx, &pb.AddRequest{Pool: poolProp, Secrets: []string{secret}})
	}
	return err
}

// waitObserved polls broker B's view until it leases id (or not).
func (b *bench) waitObserved(ctx context.Context, id string, present bool) error {
	deadline := time.Now().Add(10 * time.Second)
	for b.b.view.Contains(poolProp, id) != present {
		if time.Now().After(deadline) {
			return fmt.Errorf("propagation: broker B did not see key %s become present=%v within 10s", id, present)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		time.Sleep(propagationPoll)
	}
	return nil
}
