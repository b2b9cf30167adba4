package server

import (
	"context"
	"errors"
	"time"

	"google.golang.org/grpc/codes"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/store"
)

// GetRandom leases one active key of a pool.
func (s *Service) GetRandom(ctx context.Context, req *pb.GetRandomRequest) (*pb.GetRandomResponse, error) {
	pool := req.GetPool()
	if err := validatePool(pool); err != nil {
		return nil, err
	}
	now := s.now()
	if s.contact != nil && !s.contact.Fresh(now, s.maxStale) {
		return nil, s.stale(pool)
	}
	picked, err := s.selector.Pick(ctx, pool)
	if err != nil {
		return nil, s.pickFailure(ctx, pool, err)
	}
	s.observe.Leased(pool)
	expire := now.Add(time.Duration(s.policies.Pool(pool).LeaseTTL))
	return &pb.GetRandomResponse{
		Secret: picked.Secret,
		KeyId:  picked.KeyID,
		Lease: &pb.Lease{
			LeaseId:    s.leases.Issue(pool, picked.KeyID, expire),
			ExpireTime: timestamp(expire),
		},
	}, nil
}

// pickFailure maps a failed pick to its status: a pool with nothing to
// lease says why, anything else is the store's failure.
func (s *Service) pickFailure(ctx context.Context, pool string, err error) error {
	var nk *store.NoKeyError
	if errors.As(err, &nk) {
		return s.noKey(nk)
	}
	return s.storeFailure(ctx, "GetRandom", pool, err)
}

// noKey explains an empty selection: an empty pool and a pool of parked
// keys are the operator's to fix (FAILED_PRECONDITION); a pool whose keys
// are cooling down heals by itself, so the caller is told when to retry.
func (s *Service) noKey(nk *store.NoKeyError) error {
	if nk.Total == 0 {
		return statusError(codes.FailedPrecondition, pb.ErrorReason_ERROR_REASON_POOL_EMPTY, nk.Pool, 0,
			"pool %q has no keys; add keys with Add", nk.Pool)
	}
	if nk.CoolingDown > 0 {
		wait := max(nk.NextWake.Sub(s.now()), 1e6) // at least a millisecond
		return statusError(codes.Unavailable, pb.ErrorReason_ERROR_REASON_NO_HEALTHY_KEY, nk.Pool, wait,
			"pool %q has no active key: %d cooling down, the first returns in %s", nk.Pool, nk.CoolingDown, wait.Round(1e6))
	}
	return statusError(codes.FailedPrecondition, pb.ErrorReason_ERROR_REASON_NO_HEALTHY_KEY, nk.Pool, 0,
		"pool %q has %d keys and none is active (all disabled, suspect or quarantined); see GetAll", nk.Pool, nk.Total)
}

// stale refuses a lease from a view that has not heard from the key store
// for longer than the configured bound.
func (s *Service) stale(pool string) error {
	return statusError(codes.Unavailable, pb.ErrorReason_ERROR_REASON_STORE_UNAVAILABLE, pool, time.Second,
		"key store unreachable for longer than %s; not leasing from a view that old", s.maxStale)
}
