package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// budgetMetrics are the budget collectors, registered on first use so
// that a broker without budgets shows none of them.
type budgetMetrics struct {
	once     sync.Once
	refused  *prometheus.CounterVec
	observed *prometheus.CounterVec
}

func (m *Metrics) budgets() *budgetMetrics {
	b := &m.budget
	b.once.Do(func() {
		b.refused = prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "budget_refusals_total",
			Help: "GetRandom calls refused with NO_BUDGET (every active key spent its rate-limit budget for the window), by pool.",
		}, []string{"pool"})
		b.observed = prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "budget_observations_total",
			Help: "Provider rate-limit observations applied from ReportUsage, by pool.",
		}, []string{"pool"})
		m.Registry.MustRegister(b.refused, b.observed)
	})
	return b
}

// BudgetRefused counts a GetRandom refused for want of budget.
func (m *Metrics) BudgetRefused(pool string) {
	m.budgets().refused.WithLabelValues(pool).Inc()
}

// UsageReported counts rate-limit observations applied.
func (m *Metrics) UsageReported(pool string, n int) {
	m.budgets().observed.WithLabelValues(pool).Add(float64(n))
}
