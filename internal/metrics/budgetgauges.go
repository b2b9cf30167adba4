package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// BudgetTotals is a pool's rate-limit budget in the current window, summed
// over its active keys that have limits.
type BudgetTotals struct {
	RequestsLimit, RequestsRemaining int64
	TokensLimit, TokensRemaining     int64
	Reset                            time.Time // when the window ends
}

// BudgetSource is what the budget gauges read at each scrape.
type BudgetSource interface {
	// BudgetPools lists the pools whose budgets are in force here.
	BudgetPools() []string
	// BudgetTotals sums a pool's budgets; ok is false when it cannot
	// be told (the pool's keys are not in memory, or the shared count
	// could not be read, which the source logs).
	BudgetTotals(ctx context.Context, pool string) (t BudgetTotals, ok bool)
}

var (
	budgetLimitDesc = prometheus.NewDesc(Namespace+"_budget_limit",
		"Rate-limit budget per window of a pool's active keys, summed (limit: requests or tokens), read at scrape time.", []string{"pool", "limit"}, nil)
	budgetRemainingDesc = prometheus.NewDesc(Namespace+"_budget_remaining",
		"What is left of it in the current window across replicas (claimed slices count as spent), summed over the pool's active keys.", []string{"pool", "limit"}, nil)
	budgetResetDesc = prometheus.NewDesc(Namespace+"_budget_reset_seconds",
		"Seconds until the pool's current budget window ends.", []string{"pool"}, nil)
)

// budgetCollector reads budget totals when scraped: per pool, never per
// key id.
type budgetCollector struct {
	src     BudgetSource
	timeout time.Duration
	now     func() time.Time
}

// WatchBudgets registers the budget gauges, read from src at each scrape
// within timeout (at most a second).
func (m *Metrics) WatchBudgets(src BudgetSource, timeout time.Duration) {
	m.Registry.MustRegister(&budgetCollector{src: src, timeout: min(timeout, time.Second), now: time.Now})
}

func (c *budgetCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- budgetLimitDesc
	ch <- budgetRemainingDesc
	ch <- budgetResetDesc
}

func (c *budgetCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	for _, pool := range c.src.BudgetPools() {
		t, ok := c.src.BudgetTotals(ctx, pool)
		if !ok {
			continue
		}
		gauge := func(d *prometheus.Desc, v int64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), labels...)
		}
		if t.RequestsLimit > 0 {
			gauge(budgetLimitDesc, t.RequestsLimit, pool, "requests")
			gauge(budgetRemainingDesc, t.RequestsRemaining, pool, "requests")
		}
		if t.TokensLimit > 0 {
			gauge(budgetLimitDesc, t.TokensLimit, pool, "tokens")
			gauge(budgetRemainingDesc, t.TokensRemaining, pool, "tokens")
		}
		ch <- prometheus.MustNewConstMetric(budgetResetDesc, prometheus.GaugeValue, max(t.Reset.Sub(c.now()).Seconds(), 0), pool)
	}
}
