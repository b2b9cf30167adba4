package metrics

import "github.com/prometheus/client_golang/prometheus"

// budgetMetrics are the rate-limit budget collectors, per pool.
type budgetMetrics struct {
	refused  *prometheus.CounterVec
	observed *prometheus.CounterVec
}

func newBudgetMetrics(reg *prometheus.Registry) budgetMetrics {
	b := budgetMetrics{
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "budget_refusals_total",
			Help: "GetRandom calls refused with NO_BUDGET (every active key spent its rate-limit budget for the window), by pool.",
		}, []string{"pool"}),
		observed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "budget_observations_total",
			Help: "Provider rate-limit observations applied from ReportUsage, by pool.",
		}, []string{"pool"}),
	}
	reg.MustRegister(b.refused, b.observed)
	return b
}

// prepare creates the pool's series, so they are on the first scrape.
func (b budgetMetrics) prepare(pool string) {
	b.refused.WithLabelValues(pool)
	b.observed.WithLabelValues(pool)
}

// BudgetRefused counts a GetRandom refused for want of budget.
func (m *Metrics) BudgetRefused(pool string) {
	m.budget.refused.WithLabelValues(pool).Inc()
}

// UsageReported counts rate-limit observations applied.
func (m *Metrics) UsageReported(pool string, n int) {
	m.budget.observed.WithLabelValues(pool).Add(float64(n))
}
