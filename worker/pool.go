package worker

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/keybroker/keybroker/config"
	"github.com/keybroker/keybroker/store"
)

// claimMargin is added to a check's time budget to make its claim: room
// for applying the result and for clock differences between replicas.
const claimMargin = 5 * time.Second

// poolRunner checks one pool's keys under its policy.
type poolRunner struct {
	w         *Worker
	name      string
	policy    config.Pool
	validator Validator
	slots     chan struct{} // this pool's checks in flight
	budget    time.Duration // the longest one check may take, rate limit waits included
	hold      time.Duration // how long a claim keeps the key from other workers
	inflight  sync.WaitGroup
}

// newPoolRunner returns the runner of a pool, or nil when its policy
// checks nothing.
func newPoolRunner(w *Worker, name string, policy config.Pool) (*poolRunner, error) {
	v := policy.Validator
	if !v.Checks() {
		return nil, nil
	}
	timeout := time.Duration(v.Timeout)
	up := &upstream{
		client:   noRedirects(w.client),
		base:     policy.BaseURL,
		provider: policy.Provider,
		limiter:  rate.NewLimiter(rate.Limit(v.RateLimit), v.Concurrency),
		timeout:  timeout,
		now:      w.now,
	}
	val, err := newValidator(v, up)
	if err != nil {
		return nil, err
	}
	// Two requests at most, and a wait for the rate limiter that is at
	// worst every slot of the pool queueing for it.
	budget := 2*timeout + time.Duration(float64(v.Concurrency)/v.RateLimit*float64(time.Second))
	return &poolRunner{
		w: w, name: name, policy: policy, validator: val,
		slots: make(chan struct{}, v.Concurrency), budget: budget, hold: budget + claimMargin,
	}, nil
}

// newValidator returns the validator a policy names.
func newValidator(v config.Validator, up *upstream) (Validator, error) {
	switch v.Kind {
	case config.ValidatorBilling:
		return billing{up: up, days: v.UsageDays}, nil
	case config.ValidatorOpenAI:
		return openAI{up: up, model: v.Model}, nil
	case config.ValidatorAnthropic:
		return anthropic{up: up, model: v.Model}, nil
	case config.ValidatorGemini:
		return gemini{up: up, model: v.Model}, nil
	}
	return nil, fmt.Errorf("unknown validator kind %q", v.Kind)
}

// noRedirects returns a copy of c that never follows a redirect, so a
// key in a header or a URL never goes to a host the pool did not name.
func noRedirects(c *http.Client) *http.Client {
	cp := *c
	cp.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &cp
}

// run checks the pool until ctx ends, looking for due keys every poll.
func (p *poolRunner) run(ctx context.Context) {
	defer p.inflight.Wait()
	p.schedule(ctx)
	t := time.NewTicker(p.w.poll)
	defer t.Stop()
	for {
		if _, err := p.drain(ctx); err != nil && ctx.Err() == nil {
			p.w.stats.errors.Add(1)
			p.w.log.WarnContext(ctx, "worker: claim due keys", "pool", p.name, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sweep checks the pool's due keys, and those that fall due meanwhile,
// until none is left.
func (p *poolRunner) sweep(ctx context.Context) error {
	p.schedule(ctx)
	for {
		looked, err := p.drain(ctx)
		p.inflight.Wait()
		if err != nil {
			return err
		}
		if looked == 0 {
			return nil
		}
	}
}

// schedule puts keys stored before the worker's schedule existed on it.
func (p *poolRunner) schedule(ctx context.Context) {
	n, err := p.w.store.Schedule(ctx, p.name)
	switch {
	case err != nil && ctx.Err() == nil:
		p.w.log.WarnContext(ctx, "worker: schedule unscheduled keys", "pool", p.name, "err", err)
	case n > 0:
		p.w.log.InfoContext(ctx, "worker: scheduled keys stored before the schedule", "pool", p.name, "keys", n)
	}
}

// drain claims due keys as slots free up and starts a check for each,
// until a claim finds nothing due. It returns how many due keys it saw.
// While claims come back full (a backlog), it waits for a batch of free
// slots before claiming again, so that a busy pool costs Redis one claim
// per batch rather than one per key.
func (p *poolRunner) drain(ctx context.Context) (int, error) {
	looked, want := 0, 1
	for {
		n, err := p.acquire(ctx, want)
		if err != nil {
			return looked, err
		}
		claims, err := p.w.store.Claim(ctx, p.name, n, p.hold)
		if err != nil {
			p.release(n)
			return looked, err
		}
		p.release(n - len(claims.Keys))
		if claims.Looked == 0 && looked == 0 {
			p.w.stats.idle.Add(1)
		}
		looked += claims.Looked
		p.w.stats.claimed.Add(int64(len(claims.Keys)))
		for _, k := range claims.Keys {
			p.inflight.Add(1)
			go p.check(ctx, k)
		}
		if claims.Looked == 0 {
			return looked, nil
		}
		want = 1
		if claims.Looked == n {
			want = p.batch()
		}
	}
}

// batch is how many free slots a pool with a backlog waits for before it
// claims again: a tenth of its concurrency, within the worker's own.
func (p *poolRunner) batch() int {
	return max(1, min(cap(p.slots), cap(p.w.slots))/10)
}

// acquire waits for want of the pool's slots, takes any more that are
// free, and pairs as many of them as it can with the worker's slots,
// waiting only for the first: a drain never waits on the worker's slots
// while holding some, so pools cannot starve each other into a deadlock.
// It returns how many pairs it holds (at least one).
func (p *poolRunner) acquire(ctx context.Context, want int) (int, error) {
	n := 0
	for ; n < want; n++ {
		if err := take(ctx, p.slots); err != nil {
			p.releasePool(n)
			return 0, err
		}
	}
	for n < cap(p.slots) && tryTake(p.slots) {
		n++
	}
	if err := take(ctx, p.w.slots); err != nil {
		p.releasePool(n)
		return 0, err
	}
	got := 1
	for got < n && tryTake(p.w.slots) {
		got++
	}
	p.releasePool(n - got)
	return got, nil
}

func (p *poolRunner) releasePool(n int) {
	for range n {
		<-p.slots
	}
}

// release gives back n pairs of slots.
func (p *poolRunner) release(n int) {
	for range n {
		<-p.w.slots
		<-p.slots
	}
}

func take(ctx context.Context, slots chan struct{}) error {
	select {
	case slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func tryTake(slots chan struct{}) bool {
	select {
	case slots <- struct{}{}:
		return true
	default:
		return false
	}
}

// check validates one claimed key within the budget and applies the
// result. When the worker is stopping the result is dropped: the claim
// lapses and another worker checks the key.
func (p *poolRunner) check(ctx context.Context, k store.Claimed) {
	defer p.inflight.Done()
	defer p.release(1)
	cctx, cancel := context.WithTimeout(ctx, p.budget)
	res := p.validator.Validate(cctx, k.Secret)
	cancel()
	if ctx.Err() != nil {
		return
	}
	p.apply(ctx, k, res)
}

// apply records a result with the store and logs and counts it.
func (p *poolRunner) apply(ctx context.Context, k store.Claimed, res Result) {
	c := store.Check{
		Seen:            k.State,
		Valid:           res.Valid,
		Kind:            res.Verdict.Kind,
		Reason:          res.Verdict.Reason,
		Until:           p.policy.Until(res.Verdict, p.w.now()),
		RemoveExhausted: p.policy.Validator.OnExhausted == config.ExhaustedRemove,
		Balance:         res.Balance,
		Next:            p.next(),
		Actor:           p.w.actor,
	}
	if res.Valid {
		c.Reason = "verified"
	}
	tr, err := p.w.store.Apply(ctx, p.name, k.ID, c)
	p.record(ctx, k, res, tr, err)
}

// next is when the key is checked again, each interval put off by a
// random share of up to Jitter of it, so checks do not come in bursts.
func (p *poolRunner) next() store.Schedule {
	v := p.policy.Validator
	f := 1 + v.Jitter*p.w.jitter()
	spread := func(d config.Duration) time.Duration { return time.Duration(float64(d) * f) }
	return store.Schedule{Active: spread(v.Interval), Disabled: spread(v.DisabledInterval), Retry: spread(v.RetryInterval)}
}

// record logs and counts what a check and its application did, by key id.
func (p *poolRunner) record(ctx context.Context, k store.Claimed, res Result, tr store.Transition, err error) {
	s := &p.w.stats
	log := p.w.log.With("pool", p.name, "key_id", k.ID)
	switch {
	case errors.Is(err, store.ErrKeyUnknown):
		s.lost.Add(1)
		log.DebugContext(ctx, "worker: key left the pool while it was checked")
		return
	case err != nil:
		s.errors.Add(1)
		log.WarnContext(ctx, "worker: record check; the key is retried when its claim lapses", "err", err)
		return
	}
	s.checked.Add(1)
	switch {
	case res.Fault():
		s.faults.Add(1)
		log.WarnContext(ctx, "worker: check learned nothing; key unchanged", "kind", res.Verdict.Kind.String(),
			"reason", res.Verdict.Reason, "state", string(tr.To), "err", res.Err)
	case res.Valid:
		s.valid.Add(1)
	default:
		s.refused.Add(1)
	}
	if tr.From == tr.To {
		log.DebugContext(ctx, "worker: key checked", "state", string(tr.To), "valid", res.Valid, "reason", res.Verdict.Reason)
		return
	}
	s.changed.Add(1)
	if tr.To == store.Removed {
		s.removed.Add(1)
	}
	log.InfoContext(ctx, "key state changed", "from", string(tr.From), "to", string(tr.To), "reason", tr.Reason,
		"until", tr.Until, "actor", p.w.actor)
}
