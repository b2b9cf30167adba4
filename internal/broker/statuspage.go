package broker

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/keybroker/keybroker/internal/statuspage"
)

// holdNotices tells the status page which pools hold removals: the worker
// found more keys invalid within a removal window than the pool's brake
// allows, which usually means the upstream, not the keys, is wrong, and an
// operator should look before anything more is quarantined.
func (b *Broker) holdNotices(ctx context.Context) []statuspage.Notice {
	pools, err := b.store.Pools(ctx)
	if err != nil {
		return nil // the page already says the store is unreachable
	}
	var out []statuspage.Notice
	for _, pool := range pools {
		window := time.Duration(b.cfg.Policies.Pool(pool).RemovalWindow)
		h, err := b.store.Hold(ctx, pool, window)
		if err != nil || !h.Held() {
			continue
		}
		out = append(out, statuspage.Notice{Pool: pool, Text: fmt.Sprintf(
			"Removals held since %s: %d keys kept suspect (%s) after %d quarantined within %s. "+
				"Check the upstream; the hold lifts when they check valid, or with keybroker keys release --pool %s.",
			h.Since.UTC().Format(time.RFC3339), h.Keys, h.Reason, h.Recent, window, pool)})
	}
	return out
}

// keyBudgets describes each key's rate-limit budget for the status page,
// from the same reading GetAll gives.
func (b *Broker) keyBudgets(ctx context.Context, pool string, ids []string) map[string]string {
	if b.svc == nil {
		return nil
	}
	out := map[string]string{}
	for id, kb := range b.svc.Budgets(ctx, pool, ids) {
		var parts []string
		if kb.GetRequestsLimit() > 0 {
			parts = append(parts, fmt.Sprintf("%d of %d requests", kb.GetRequestsRemaining(), kb.GetRequestsLimit()))
		}
		if kb.GetTokensLimit() > 0 {
			parts = append(parts, fmt.Sprintf("%d of %d tokens", kb.GetTokensRemaining(), kb.GetTokensLimit()))
		}
		out[id] = strings.Join(parts, ", ") + " left until " + kb.GetResetTime().AsTime().UTC().Format(time.TimeOnly) + " (" + kb.GetSource() + ")"
	}
	return out
}
