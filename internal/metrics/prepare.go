package metrics

import (
	"github.com/keybroker/keybroker/failure"
	"github.com/keybroker/keybroker/internal/store"
)

// PoolInfo is what Prepare needs of a pool: its name and validator kind
// ("" or "none" when nothing checks it).
type PoolInfo struct {
	Name      string
	Validator string
}

// checkOutcomes are the outcomes Checked records.
var checkOutcomes = []string{"valid", "refused", "fault", "lost", "error"}

// Prepare creates the labelled series of the pools known at start at zero,
// so that every documented metric is on the first scrape: a family without
// a series is not exposed at all, and rate() and alerts over a series that
// appears mid-incident miss its first increase.
func (m *Metrics) Prepare(pools []PoolInfo) {
	for _, cmd := range []string{"dial", "pipeline", "evalsha"} {
		m.redisErrors.WithLabelValues(cmd)
		m.redisDuration.WithLabelValues(cmd)
	}
	for _, p := range pools {
		m.leases.WithLabelValues(p.Name)
		for k := failure.InvalidKey; k <= failure.Unclassified; k++ {
			m.reports.WithLabelValues(p.Name, k.String())
		}
		m.queued.WithLabelValues(p.Name, "queued")
		m.queued.WithLabelValues(p.Name, "refused")
		m.transitions.WithLabelValues(p.Name, "none", string(store.Active), "", "added")
		if p.Validator == "" || p.Validator == "none" {
			continue
		}
		for _, o := range checkOutcomes {
			m.checks.WithLabelValues(p.Name, p.Validator, o)
		}
		m.checkDuration.WithLabelValues(p.Name, p.Validator)
	}
}
