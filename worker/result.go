package worker

import (
	"context"

	"github.com/keybroker/keybroker/failure"
	"github.com/keybroker/keybroker/internal/store"
)

// Validator checks one key against its provider. Implementations are safe
// for concurrent use; ctx bounds the whole check.
type Validator interface {
	Validate(ctx context.Context, secret string) Result
}

// Result is what one check found.
type Result struct {
	// Valid means the provider accepted the key and it can be used now.
	Valid bool
	// Verdict classifies the refusal when not Valid. Transient and
	// Unclassified are faults: nothing is known about the key.
	Verdict failure.Verdict
	// Balance is what a billing check read; nil when none was read.
	Balance *store.Balance
	// Err describes a fault for the log. It never holds the secret.
	Err error
}

// Fault reports whether the check learned nothing about the key (no
// answer, a 5xx, garbage, or a refusal that is not about the key).
func (r Result) Fault() bool {
	return !r.Valid && (r.Verdict.Kind == failure.Transient || r.Verdict.Kind == failure.Unclassified)
}

func valid(b *store.Balance) Result { return Result{Valid: true, Balance: b} }

// exhausted is the billing validator's own finding that a key has no
// credit left, with the balance that shows it.
func exhausted(reason string, b *store.Balance) Result {
	return Result{Verdict: failure.Verdict{Kind: failure.QuotaExhausted, Reason: reason}, Balance: b}
}

// malformed is a fault: the provider answered, but not with what its API
// promises (a relay's HTML page, truncated JSON, a missing field).
func malformed(err error) Result {
	return Result{Verdict: failure.Verdict{Kind: failure.Transient, Reason: "malformed_response"}, Err: err}
}
