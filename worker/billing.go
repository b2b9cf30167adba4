package worker

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/keybroker/keybroker/internal/store"
)

// billing is the validator for OpenAI-compatible relays (one-api,
// new-api and the like) that still answer OpenAI's old billing endpoints:
// the subscription says the limit and expiry, the usage over a window says
// what is spent. Expired, a zero limit, or usage at the limit is exhausted;
// anything else is valid. The balance is recorded on the key either way.
type billing struct {
	up   *upstream
	days int // usage window
}

// subscription is GET /v1/dashboard/billing/subscription. Its
// soft_limit_usd only triggers a notification e-mail, so it is not read.
type subscription struct {
	HardLimitUSD       *float64 `json:"hard_limit_usd"`
	SystemHardLimitUSD float64  `json:"system_hard_limit_usd"`
	AccessUntil        int64    `json:"access_until"` // unix seconds; 0 = no end
}

func (s *subscription) complete() bool { return s.HardLimitUSD != nil }

// limit is what the key may spend: the account's hard limit, capped by the
// system's when that is lower (OpenAI's and relays' ceiling above it).
func (s *subscription) limit() float64 {
	if s.SystemHardLimitUSD > 0 && s.SystemHardLimitUSD < *s.HardLimitUSD {
		return s.SystemHardLimitUSD
	}
	return *s.HardLimitUSD
}

// usage is GET /v1/dashboard/billing/usage.
type usage struct {
	TotalUsage *float64 `json:"total_usage"` // cents
}

func (u *usage) complete() bool { return u.TotalUsage != nil }

// Validate reads the key's subscription and, while it is live, its usage.
func (b billing) Validate(ctx context.Context, secret string) Result {
	var sub subscription
	if r, ok := b.up.fetch(ctx, secret, b.up.authed(secret, request{method: http.MethodGet, path: "/v1/dashboard/billing/subscription"}), &sub); !ok {
		return r
	}
	bal := &store.Balance{LimitUSD: sub.limit()}
	if sub.AccessUntil > 0 {
		bal.Expires = time.Unix(sub.AccessUntil, 0)
	}
	now := b.up.now()
	switch {
	case !bal.Expires.IsZero() && !bal.Expires.After(now):
		return exhausted("subscription_expired", bal)
	case bal.LimitUSD <= 0:
		return exhausted("hard_limit_zero", bal)
	}
	var use usage
	if r, ok := b.up.fetch(ctx, secret, b.up.authed(secret, request{method: http.MethodGet, path: b.usagePath(now)}), &use); !ok {
		return r
	}
	bal.UsedUSD = *use.TotalUsage / 100
	if bal.UsedUSD >= bal.LimitUSD {
		return exhausted("usage_limit_reached", bal)
	}
	return valid(bal)
}

// usagePath asks for the usage of the last days days, up to and including
// today (end_date is exclusive).
func (b billing) usagePath(now time.Time) string {
	now = now.UTC()
	q := url.Values{
		"start_date": {now.AddDate(0, 0, -b.days).Format(time.DateOnly)},
		"end_date":   {now.AddDate(0, 0, 1).Format(time.DateOnly)},
	}
	return fmt.Sprintf("/v1/dashboard/billing/usage?%s", q.Encode())
}
