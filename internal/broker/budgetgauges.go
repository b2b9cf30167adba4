package broker

import (
	"context"

	"github.com/keybroker/keybroker/internal/metrics"
)

// budgetGauges gives the metrics' budget gauges what GetAll shows, summed
// over each pool's active keys as the in-memory view holds them.
type budgetGauges struct{ b *Broker }

func (g budgetGauges) BudgetPools() []string { return g.b.budgets.Pools() }

func (g budgetGauges) BudgetTotals(ctx context.Context, pool string) (metrics.BudgetTotals, bool) {
	ids, loaded := g.b.view.ActiveIDs(pool)
	if !loaded {
		return metrics.BudgetTotals{}, false
	}
	budgets := g.b.svc.Budgets(ctx, pool, ids)
	if len(budgets) == 0 { // no limited key, or the count could not be read (logged)
		return metrics.BudgetTotals{}, false
	}
	var t metrics.BudgetTotals
	for _, kb := range budgets {
		t.RequestsLimit += kb.GetRequestsLimit()
		t.RequestsRemaining += kb.GetRequestsRemaining()
		t.TokensLimit += kb.GetTokensLimit()
		t.TokensRemaining += kb.GetTokensRemaining()
		if r := kb.GetResetTime().AsTime(); r.After(t.Reset) {
			t.Reset = r
		}
	}
	return t, true
}
