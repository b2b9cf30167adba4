package store

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/keybroker/keybroker/failure"
)

// Claimed is a key handed to one worker to check.
type Claimed struct {
	ID     string
	Secret string
	// State is the key's state when it was claimed; Apply compares it with
	// the state it finds, so a change made meanwhile is not overruled.
	State State
}

// Claims is what one Claim call handed out.
type Claims struct {
	// Looked is how many due keys the call went through, claimed or not
	// (cooling down keys are rescheduled, not claimed). While it is above
	// zero more keys may be due.
	Looked int
	Keys   []Claimed
	// Unreadable are claimed keys whose stored secret could not be opened
	// (sealed with a data key this process lacks). They are left out of
	// Keys, so a ciphertext never reaches a provider, and their claims
	// lapse like any other.
	Unreadable []string
}

// Claim hands out up to limit keys of a pool whose check is due, suspect
// keys first, and holds each for hold: no other Claim returns it until the
// hold passes or Apply reschedules it. A worker that dies holding claims
// needs no cleanup; its keys fall due again when the holds lapse. This is
// how several replicas check each key once per interval without electing
// a leader.
func (s *Store) Claim(ctx context.Context, pool string, limit int, hold time.Duration) (Claims, error) {
	if limit < 1 {
		return Claims{}, nil
	}
	res, err := s.eval(ctx, claimScript, pool, limit, hold.Milliseconds()).Slice()
	if err != nil {
		return Claims{}, fmt.Errorf("claim keys of pool %q: %w", pool, err)
	}
	claims, err := parseClaims(reply(res))
	if err != nil {
		return Claims{}, fmt.Errorf("claim keys of pool %q: %w", pool, err)
	}
	return s.openClaims(pool, claims), nil
}

// openClaims replaces each claimed key's stored secret with the secret
// itself, setting aside those that cannot be opened.
func (s *Store) openClaims(pool string, c Claims) Claims {
	opened := c.Keys[:0]
	for _, k := range c.Keys {
		plain, err := s.openSecret(pool, k.ID, k.Secret)
		if err != nil {
			c.Unreadable = append(c.Unreadable, k.ID)
			continue
		}
		k.Secret = plain
		opened = append(opened, k)
	}
	c.Keys = opened
	return c
}

func parseClaims(r reply) (Claims, error) {
	if len(r) != 2 {
		return Claims{}, fmt.Errorf("script answered %d elements, want 2", len(r))
	}
	rows, ok := r[1].([]any)
	if !ok {
		return Claims{}, fmt.Errorf("malformed script reply")
	}
	c := Claims{Looked: int(r.int(0)), Keys: make([]Claimed, 0, len(rows))}
	for _, row := range rows {
		f, ok := row.([]any)
		if !ok || len(f) != 3 {
			return Claims{}, fmt.Errorf("malformed claim row")
		}
		st, err := parseState(reply(f).str(2))
		if err != nil {
			return Claims{}, err
		}
		c.Keys = append(c.Keys, Claimed{ID: reply(f).str(0), Secret: reply(f).str(1), State: st})
	}
	return c, nil
}

// Check is what a worker found about a claimed key, with the policy that
// decides what follows.
type Check struct {
	// Seen is the state the key was claimed in (Claimed.State).
	Seen State
	// Valid means the provider accepted the key and it is usable; Kind is
	// ignored then.
	Valid bool
	// Kind classifies the refusal when not Valid. Transient and
	// Unclassified are faults: they change nothing but the next check.
	Kind failure.Kind
	// Reason is recorded with a change of state ([a-z0-9_]).
	Reason string
	// Until is the cooldown end (RateLimited) or known quota reset
	// (QuotaExhausted); zero for none.
	Until time.Time
	// RemoveExhausted quarantines a key out of quota instead of disabling
	// it (a per-pool choice; the seed deleted such keys).
	RemoveExhausted bool
	// ConfirmDelay is the least time between the first bad answer that
	// made a key suspect and the check that confirms it: one blip cannot
	// both accuse and convict a key.
	ConfirmDelay time.Duration
	// Brake limits how many keys the worker quarantines per window; the
	// zero Brake does not limit.
	Brake Brake
	// Observes lists the refusals this validator can see. A disabled key
	// that a caller's report parked for a refusal not in it (a region 403
	// in a pool checked by billing) is not cleared by a valid check. Nil
	// means every kind.
	Observes []failure.Kind
	// Balance is what a billing check read, recorded on the key; nil keeps
	// the last one.
	Balance *Balance
	// Next says when the key is checked again.
	Next Schedule
	// Actor names who made the change in the audit trail.
	Actor string
}

// Schedule is when a checked key is checked next, from the time of Apply.
type Schedule struct {
	Active   time.Duration // after a result for an active key
	Disabled time.Duration // after a result for a disabled or quarantined key
	Retry    time.Duration // after a fault, or a rate limit without an end
}

// Apply records a check of a claimed key and moves the key, its schedule
// and the audit trail in one atomic step:
//
//   - valid: a suspect, disabled or quarantined key becomes active, except
//     a disabled key a caller's report parked for a refusal the validator
//     cannot observe (Check.Observes);
//   - invalid: the first bad answer makes a key suspect and schedules the
//     confirming check ConfirmDelay later; the confirming answer
//     quarantines it, unless the pool's Brake holds: then it stays suspect
//     (Transition.Brake says so) and is checked again after the retry
//     delay;
//   - quota exhausted: disabled (until a known reset), or quarantined with
//     RemoveExhausted while the brake allows; permission denied: disabled;
//   - rate limited: an active key cools down; others wait;
//   - transient, unclassified: nothing changes but the next check.
//
// A key whose state changed while it was checked keeps the newer state and
// is checked again. A key no longer in the pool is ErrKeyUnknown.
func (s *Store) Apply(ctx context.Context, pool, id string, c Check) (Transition, error) {
	outcome := "valid"
	if !c.Valid {
		outcome = c.Kind.String()
	}
	onExhausted := "disable"
	if c.RemoveExhausted {
		onExhausted = "remove"
	}
	var until int64
	if !c.Until.IsZero() {
		until = c.Until.UnixMilli()
	}
	args := []any{id, string(c.Seen), outcome, c.Reason, until, onExhausted,
		c.Next.Active.Milliseconds(), c.Next.Disabled.Milliseconds(), c.Next.Retry.Milliseconds(), c.Actor}
	args = append(args, balanceArgs(c.Balance)...)
	args = append(args, c.ConfirmDelay.Milliseconds())
	args = append(args, c.Brake.args()...)
	args = append(args, kindList(c.Observes))
	res, err := s.eval(ctx, applyScript, pool, args...).Slice()
	if err != nil {
		return Transition{}, fmt.Errorf("apply check of key %s in pool %q: %w", id, pool, err)
	}
	r := reply(res)
	if err := r.err(nil); err != nil {
		return Transition{}, fmt.Errorf("apply check of key %s in pool %q: %w", id, pool, err)
	}
	tr, err := parseTransition(r)
	if err != nil {
		return Transition{}, fmt.Errorf("apply check of key %s in pool %q: %w", id, pool, err)
	}
	return tr, nil
}

// balanceArgs writes a balance as the script's three arguments.
func balanceArgs(b *Balance) []any {
	if b == nil {
		return []any{"", "", ""}
	}
	var expires int64
	if !b.Expires.IsZero() {
		expires = b.Expires.UnixMilli()
	}
	return []any{
		strconv.FormatFloat(b.LimitUSD, 'f', -1, 64),
		strconv.FormatFloat(b.UsedUSD, 'f', -1, 64),
		expires,
	}
}

// Schedule puts keys of a pool that are missing from the worker's schedule
// on it, due now, and says how many it added. Keys added by this release
// are scheduled as they are added; this catches keys stored before it.
func (s *Store) Schedule(ctx context.Context, pool string) (int, error) {
	n, err := s.eval(ctx, scheduleScript, pool).Int()
	if err != nil {
		return 0, fmt.Errorf("schedule keys of pool %q: %w", pool, err)
	}
	return n, nil
}

// kindList writes kinds as the scripts' ",a,b," list; nil is "*", every
// kind.
func kindList(kinds []failure.Kind) string {
	if kinds == nil {
		return "*"
	}
	out := ","
	for _, k := range kinds {
		out += k.String() + ","
	}
	return out
}
