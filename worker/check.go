package worker

import (
	"context"
	"errors"
	"time"

	"github.com/keybroker/keybroker/internal/config"
	"github.com/keybroker/keybroker/internal/store"
)

// check validates one claimed key within the budget and applies the
// result. When the worker is stopping the result is dropped: the claim
// lapses and another worker checks the key.
func (p *poolRunner) check(ctx context.Context, k store.Claimed) {
	defer p.inflight.Done()
	defer p.release(1)
	cctx, cancel := context.WithTimeout(ctx, p.budget)
	start := time.Now()
	res := p.validator.Validate(cctx, k.Secret)
	took := time.Since(start)
	cancel()
	if ctx.Err() != nil {
		return
	}
	outcome := p.apply(ctx, k, res)
	p.w.observe.Checked(p.name, p.policy.Validator.Kind, outcome, took)
}

// apply records a result with the store, logs and counts it, and says
// what came of the check (see Observer.Checked).
func (p *poolRunner) apply(ctx context.Context, k store.Claimed, res Result) string {
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
		ConfirmDelay:    time.Duration(p.policy.ConfirmDelay),
		Brake:           brakeOf(p.policy),
		Observes:        p.policy.Validator.Observes(),
	}
	if res.Valid {
		c.Reason = "verified"
	}
	tr, err := p.w.store.Apply(ctx, p.name, k.ID, c)
	return p.record(ctx, k, res, tr, err)
}

// next is when the key is checked again, each interval put off by a
// random share of up to Jitter of it, so checks do not come in bursts.
func (p *poolRunner) next() store.Schedule {
	v := p.policy.Validator
	f := 1 + v.Jitter*p.w.jitter()
	spread := func(d config.Duration) time.Duration { return time.Duration(float64(d) * f) }
	return store.Schedule{Active: spread(v.Interval), Disabled: spread(v.DisabledInterval), Retry: spread(v.RetryInterval)}
}

// record logs and counts what a check and its application did, by key id,
// and returns the check's outcome.
func (p *poolRunner) record(ctx context.Context, k store.Claimed, res Result, tr store.Transition, err error) string {
	s := &p.w.stats
	log := p.w.log.With("pool", p.name, "key_id", k.ID)
	if res.Err != nil {
		log = log.With("err", res.Err)
	}
	switch {
	case errors.Is(err, store.ErrKeyUnknown):
		s.lost.Add(1)
		log.DebugContext(ctx, "worker: key left the pool while it was checked")
		return "lost"
	case err != nil:
		s.errors.Add(1)
		log.WarnContext(ctx, "worker: record check; the key is retried when its claim lapses", "err", err)
		return "error"
	}
	s.checked.Add(1)
	outcome := "refused"
	switch {
	case res.Fault():
		s.faults.Add(1)
		outcome = "fault"
		log.WarnContext(ctx, "worker: check learned nothing; key unchanged", "kind", res.Verdict.Kind.String(),
			"reason", res.Verdict.Reason, "state", string(tr.To))
	case res.Valid:
		s.valid.Add(1)
		outcome = "valid"
	default:
		s.refused.Add(1)
	}
	p.noteBrake(ctx, tr)
	if tr.From == tr.To {
		log.DebugContext(ctx, "worker: key checked", "state", string(tr.To), "valid", res.Valid, "reason", res.Verdict.Reason)
		return outcome
	}
	p.w.observe.Transitioned(p.name, tr, res.Verdict.Kind, tr.Reason)
	s.changed.Add(1)
	if tr.To == store.Quarantined {
		s.removed.Add(1)
	}
	log.InfoContext(ctx, "key state changed", "from", string(tr.From), "to", string(tr.To), "reason", tr.Reason,
		"until", tr.Until, "actor", p.w.actor)
	return outcome
}

// brakeOf is the pool's removal brake as the store applies it.
func brakeOf(p config.Pool) store.Brake {
	return store.Brake{Count: p.MaxRemovals.Count, Percent: p.MaxRemovals.Percent, Window: time.Duration(p.RemovalWindow)}
}

// noteBrake counts what the removal brake did with a check and logs when
// a hold starts or lifts: once per hold, by the worker whose check did it,
// whichever replica that is.
func (p *poolRunner) noteBrake(ctx context.Context, tr store.Transition) {
	switch tr.Brake {
	case store.BrakeHoldStarted:
		p.w.stats.held.Add(1)
		p.w.log.WarnContext(ctx, "worker: removals held: the pool quarantined as many keys as its brake allows; "+
			"further keys that check invalid stay suspect until they check valid or an admin releases them (keybroker keys release)",
			"pool", p.name, "max_removals", p.policy.MaxRemovals.String(), "removal_window", p.policy.RemovalWindow.String(),
			"reason", tr.Reason)
	case store.BrakeHeld:
		p.w.stats.held.Add(1)
	case store.BrakeHoldLifted:
		p.w.log.InfoContext(ctx, "worker: removals hold lifted: every held key checked valid again", "pool", p.name)
	}
}
