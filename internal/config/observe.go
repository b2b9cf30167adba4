package config

import (
	"slices"

	"github.com/keybroker/keybroker/failure"
)

// Observes lists the refusals this validator's checks can see, so that a
// check that cannot see why a key was parked does not clear it:
//
//   - billing reads a relay's billing endpoints: invalid keys and
//     exhausted credit, not the permissions or region of a caller;
//   - openai (GET /v1/models) and gemini (models list) see invalid keys
//     and permission refusals; with a model their completion probe also
//     sees exhausted quota;
//   - anthropic's message probe sees all three.
//
// A pool that checks nothing observes nothing.
func (v Validator) Observes() []failure.Kind {
	switch v.Kind {
	case ValidatorBilling:
		return []failure.Kind{failure.InvalidKey, failure.QuotaExhausted}
	case ValidatorAnthropic:
		return []failure.Kind{failure.InvalidKey, failure.PermissionDenied, failure.QuotaExhausted}
	case ValidatorOpenAI, ValidatorGemini:
		if v.Model != "" {
			return []failure.Kind{failure.InvalidKey, failure.PermissionDenied, failure.QuotaExhausted}
		}
		return []failure.Kind{failure.InvalidKey, failure.PermissionDenied}
	}
	return nil
}

// ReportPark is the longest a caller's report of kind parks a key of this
// pool: SuspectTimeout when the pool's validator cannot check that kind of
// refusal (or there is no validator), since then only time can undo a
// false report; 0 (no bound) when a validator re-checks it.
func (p Pool) ReportPark(kind failure.Kind) Duration {
	if slices.Contains(p.Validator.Observes(), kind) {
		return 0
	}
	return p.SuspectTimeout
}
