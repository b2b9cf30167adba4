package server

import (
	"context"
	"time"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/budget"
)

// maxUsagesPerCall bounds one ReportUsage batch.
const maxUsagesPerCall = 1000

// ReportUsage applies what providers' rate-limit headers said about
// leased keys (see budget.Tracker.Observe). Usages naming a lease this
// deployment did not issue for the pool, or one expired past the grace
// ReportFailure allows, are skipped and not counted: a caller can only
// speak of keys it was given. Without budgets the batch is accepted and
// nothing is applied.
func (s *Service) ReportUsage(ctx context.Context, req *pb.ReportUsageRequest) (*pb.ReportUsageResponse, error) {
	pool := req.GetPool()
	if err := validatePool(pool); err != nil {
		return nil, err
	}
	if n := len(req.GetUsages()); n > maxUsagesPerCall {
		return nil, invalid("usages", "must hold at most %d usages, got %d", maxUsagesPerCall, n)
	}
	if s.budgets == nil {
		return &pb.ReportUsageResponse{}, nil
	}
	now := s.now()
	obs := make([]budget.Observation, 0, len(req.GetUsages()))
	for _, u := range req.GetUsages() {
		id, expire, err := s.leases.Verify(pool, u.GetLeaseId())
		if err != nil || now.After(expire.Add(leaseGrace)) {
			continue
		}
		at := now
		if a := u.GetAge(); a != nil && a.CheckValid() == nil && a.AsDuration() > 0 {
			at = now.Add(-min(a.AsDuration(), time.Hour))
		}
		obs = append(obs, budget.Observation{ID: id, At: at, Reqs: header(u.GetRequests()), Toks: header(u.GetTokens())})
	}
	if err := s.budgets.Observe(ctx, pool, obs); err != nil {
		return nil, s.storeFailure(ctx, "ReportUsage", pool, err)
	}
	if o, ok := s.observe.(BudgetObserver); ok && len(obs) > 0 {
		o.UsageReported(pool, len(obs))
	}
	return &pb.ReportUsageResponse{AcceptedCount: int32(len(obs))}, nil
}

// header converts one reported window, ignoring nonsense (negative
// counts, resets beyond a day).
func header(w *pb.RateLimitWindow) budget.Header {
	var h budget.Header
	if w == nil {
		return h
	}
	if w.Limit != nil && w.GetLimit() > 0 {
		h.Limit, h.HasLimit = w.GetLimit(), true
	}
	if w.Remaining != nil && w.GetRemaining() >= 0 {
		h.Remaining, h.HasRemaining = w.GetRemaining(), true
	}
	if r := w.GetResetAfter(); r != nil && r.CheckValid() == nil {
		if d := r.AsDuration(); d > 0 && d <= 24*time.Hour {
			h.Reset = d
		}
	}
	return h
}
