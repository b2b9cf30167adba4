package worker

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/keybroker/keybroker/internal/config"
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
		rules:    policy.Rules(),
		auth:     policy.Auth(),
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
	failing := false
	for {
		_, err := p.drain(ctx)
		failing = p.noteClaimError(ctx, err, failing)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// noteClaimError counts and logs a failed look for due keys: at warn when
// it starts failing, at debug while it goes on (Redis down would otherwise
// log every poll), at info when it recovers. It returns whether it fails.
func (p *poolRunner) noteClaimError(ctx context.Context, err error, failing bool) bool {
	switch {
	case ctx.Err() != nil:
		return failing
	case err == nil:
		if failing {
			p.w.log.InfoContext(ctx, "worker: claiming due keys works again", "pool", p.name)
		}
		return false
	}
	p.w.stats.errors.Add(1)
	level := slog.LevelWarn
	if failing {
		level = slog.LevelDebug
	}
	p.w.log.Log(ctx, level, "worker: claim due keys", "pool", p.name, "err", err)
	return true
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
		if err := ctx.Err(); err != nil { // a slot freed as the worker stopped
			p.release(n)
			return looked, err
		}
		claims, err := p.w.store.Claim(ctx, p.name, n, p.hold)
		if err != nil {
			p.release(n)
			return looked, err
		}
		p.release(n - len(claims.Keys))
		for _, id := range claims.Unreadable {
			p.w.log.ErrorContext(ctx, "key not checked: its sealed value cannot be opened (is a data key missing from --encryption-key-file?)",
				"pool", p.name, "key_id", id)
		}
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
