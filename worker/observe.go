package worker

import (
	"time"

	"github.com/keybroker/keybroker/failure"
	"github.com/keybroker/keybroker/internal/store"
)

// Observer is told about each check and each change it makes, for metrics.
// It must be safe for concurrent use; it never sees a key id or a secret.
type Observer interface {
	// Checked reports one check of a key of pool with validator: outcome
	// is valid, refused, fault (learned nothing), lost (the key left
	// meanwhile) or error (the result could not be recorded).
	Checked(pool, validator, outcome string, took time.Duration)
	// Transitioned reports a state change a check made.
	Transitioned(pool string, tr store.Transition, kind failure.Kind, reason string)
}

type nopObserver struct{}

func (nopObserver) Checked(string, string, string, time.Duration)               {}
func (nopObserver) Transitioned(string, store.Transition, failure.Kind, string) {}

// WithObserver reports checks and changes to o.
func WithObserver(o Observer) Option { return func(w *Worker) { w.observe = o } }
