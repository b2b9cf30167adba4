package server

import (
	"context"
	"fmt"
	"time"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/auth"
	"github.com/keybroker/keybroker/internal/store"
)

// Restore puts keys back into rotation: the named ones, or every
// quarantined key of the pool. Each becomes active and due for the
// worker's check at once.
func (s *Service) Restore(ctx context.Context, req *pb.RestoreRequest) (*pb.RestoreResponse, error) {
	pool := req.GetPool()
	if err := validatePool(pool); err != nil {
		return nil, err
	}
	ids, err := restoreIDs(req)
	if err != nil {
		return nil, err
	}
	keys := s.keys.As(callerName(ctx))
	var res store.RestoreResult
	if req.GetAllQuarantined() {
		res.Restored, err = keys.RestoreQuarantined(ctx, pool)
	} else {
		res, err = keys.Restore(ctx, pool, dedupe(ids))
	}
	if err != nil {
		return nil, s.storeFailure(ctx, "Restore", pool, err)
	}
	for _, id := range res.Restored {
		s.log.InfoContext(ctx, "key restored", "pool", pool, "key_id", id, "actor", auth.Actor(ctx))
	}
	s.refresh(ctx, pool, res.Restored...)
	return &pb.RestoreResponse{
		RestoredCount:   int32(len(res.Restored)),
		RestoredKeyIds:  res.Restored,
		UnchangedKeyIds: res.Unchanged,
		NotFoundKeyIds:  res.NotFound,
	}, nil
}

// restoreIDs checks that a request names keys one way: ids or every
// quarantined key.
func restoreIDs(req *pb.RestoreRequest) ([]string, error) {
	n := len(req.GetKeyIds())
	if req.GetAllQuarantined() {
		if n > 0 {
			return nil, invalid("key_ids", "give key_ids or all_quarantined, not both")
		}
		return nil, nil
	}
	if n == 0 || n > maxKeyIDsPerCall {
		return nil, invalid("key_ids", "must name 1 to %d keys (or set all_quarantined), got %d", maxKeyIDsPerCall, n)
	}
	for i, id := range req.GetKeyIds() {
		if err := validateKeyID(fmt.Sprintf("key_ids[%d]", i), id); err != nil {
			return nil, err
		}
	}
	return append([]string(nil), req.GetKeyIds()...), nil
}

// ReleaseRemovals lifts a pool's removal hold: the keys the brake held
// are quarantined now.
func (s *Service) ReleaseRemovals(ctx context.Context, req *pb.ReleaseRemovalsRequest) (*pb.ReleaseRemovalsResponse, error) {
	pool := req.GetPool()
	if err := validatePool(pool); err != nil {
		return nil, err
	}
	recheck := time.Duration(s.policies.Pool(pool).Validator.DisabledInterval)
	ids, err := s.keys.As(callerName(ctx)).ReleaseRemovals(ctx, pool, recheck)
	if err != nil {
		return nil, s.storeFailure(ctx, "ReleaseRemovals", pool, err)
	}
	s.log.InfoContext(ctx, "removals released: held keys quarantined", "pool", pool, "keys", len(ids), "actor", auth.Actor(ctx))
	for _, id := range ids {
		s.log.InfoContext(ctx, "key quarantined", "pool", pool, "key_id", id, "actor", auth.Actor(ctx))
	}
	s.refresh(ctx, pool, ids...)
	return &pb.ReleaseRemovalsResponse{QuarantinedCount: int32(len(ids)), QuarantinedKeyIds: ids}, nil
}
