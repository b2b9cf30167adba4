package server

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/auth"
	"github.com/keybroker/keybroker/internal/store"
)

// DeletePool retires a pool so that listings, metrics and alerts forget
// it. A pool with keys is refused unless req.force, which removes them
// first, each with its own audit entry, as Remove would.
func (s *Service) DeletePool(ctx context.Context, req *pb.DeletePoolRequest) (*pb.DeletePoolResponse, error) {
	pool := req.GetPool()
	if err := validatePool(pool); err != nil {
		return nil, err
	}
	removed := 0
	if req.GetForce() {
		n, err := s.removeAll(ctx, pool)
		removed = n
		if err != nil {
			return nil, s.storeFailure(ctx, "DeletePool", pool, err)
		}
	}
	err := s.keys.Retire(ctx, pool)
	switch {
	case errors.Is(err, store.ErrPoolNotEmpty):
		return nil, statusError(codes.FailedPrecondition, pb.ErrorReason_ERROR_REASON_POOL_NOT_EMPTY, pool, 0,
			"pool %q still holds keys; remove them first or set force", pool)
	case errors.Is(err, store.ErrPoolUnknown):
		return nil, statusError(codes.NotFound, pb.ErrorReason_ERROR_REASON_POOL_UNKNOWN, pool, 0, "pool %q does not exist", pool)
	case err != nil:
		return nil, s.storeFailure(ctx, "DeletePool", pool, err)
	}
	s.log.InfoContext(ctx, "pool retired", "pool", pool, "removed_keys", removed, "actor", auth.Actor(ctx))
	return &pb.DeletePoolResponse{RemovedCount: int32(removed)}, nil
}

// removeAll removes every key of a pool, a page of ids at a time.
func (s *Service) removeAll(ctx context.Context, pool string) (int, error) {
	removed := 0
	for {
		ids, err := s.keys.AllKeyIDs(ctx, pool, "", maxKeyIDsPerCall)
		if err != nil || len(ids) == 0 {
			return removed, err
		}
		res, err := s.keys.Remove(ctx, pool, ids)
		removed += len(res.Removed)
		s.observe.Removed(pool, len(res.Removed))
		s.refresh(ctx, pool, res.Removed...)
		if err != nil || len(res.Removed) == 0 { // nothing removable left: Retire says what remains
			return removed, err
		}
	}
}
