package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/keybroker/keybroker/failure"
	"github.com/keybroker/keybroker/internal/store"
)

// Leased counts one GetRandom lease.
func (m *Metrics) Leased(pool string) {
	m.leases.WithLabelValues(pool).Inc()
}

// Reported counts a failure report and, when it moved the key, the
// transition.
func (m *Metrics) Reported(pool string, v failure.Verdict, tr store.Transition) {
	m.reports.WithLabelValues(pool, v.Kind.String()).Inc()
	if tr.From != tr.To {
		m.transitions.WithLabelValues(pool, string(tr.From), string(tr.To), v.Kind.String(), v.Reason).Inc()
	}
}

// Added counts keys that entered a pool.
func (m *Metrics) Added(pool string, n int) {
	if n > 0 {
		m.transitions.WithLabelValues(pool, "none", string(store.Active), "", "added").Add(float64(n))
	}
}

// Removed counts keys an admin deleted.
func (m *Metrics) Removed(pool string, n int) {
	if n > 0 {
		m.transitions.WithLabelValues(pool, "any", "removed", "", "admin").Add(float64(n))
	}
}

// Checked counts one validation check and how long it took upstream.
func (m *Metrics) Checked(pool, validator, outcome string, took time.Duration) {
	m.checks.WithLabelValues(pool, validator, outcome).Inc()
	m.checkDuration.WithLabelValues(pool, validator).Observe(took.Seconds())
}

// Transitioned counts a state change the validation worker made.
func (m *Metrics) Transitioned(pool string, tr store.Transition, kind failure.Kind, reason string) {
	k := ""
	if kind != failure.Unspecified {
		k = kind.String()
	}
	m.transitions.WithLabelValues(pool, string(tr.From), string(tr.To), k, reason).Inc()
}

// ReportQueued counts a failure report met with an unreachable store.
func (m *Metrics) ReportQueued(pool string, accepted bool) {
	outcome := "queued"
	if !accepted {
		outcome = "refused"
	}
	m.queued.WithLabelValues(pool, outcome).Inc()
}

// WatchReportQueue exports how many reports wait for the store.
func (m *Metrics) WatchReportQueue(pending func() int) {
	m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "report_queue_length",
		Help: "Failure reports accepted while Redis was unreachable and not yet applied.",
	}, func() float64 { return float64(pending()) }))
}

// StoreContact is what the view-age gauge reads: *server.StoreContact.
type StoreContact interface {
	Since(now time.Time) time.Duration
}

// WatchStoreContact exports how long ago Redis last answered: how stale
// the in-memory view may be.
func (m *Metrics) WatchStoreContact(c StoreContact) {
	m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "view_age_seconds",
		Help: "Seconds since Redis last answered this broker: how stale the in-memory view GetRandom leases from may be.",
	}, func() float64 { return min(c.Since(time.Now()).Seconds(), 1e9) }))
}
