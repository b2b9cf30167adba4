package server

import (
	"context"
	"fmt"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/auth"
)

// Remove deletes keys from a pool by key id or secret, idempotently.
func (s *Service) Remove(ctx context.Context, req *pb.RemoveRequest) (*pb.RemoveResponse, error) {
	pool := req.GetPool()
	if err := validatePool(pool); err != nil {
		return nil, err
	}
	n := len(req.GetKeyIds()) + len(req.GetSecrets())
	if n == 0 || n > maxKeyIDsPerCall {
		return nil, invalid("key_ids", "key_ids and secrets together must name 1 to %d keys, got %d", maxKeyIDsPerCall, n)
	}
	ids := make([]string, 0, n)
	for i, id := range req.GetKeyIds() {
		if err := validateKeyID(fmt.Sprintf("key_ids[%d]", i), id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	secrets, err := normalizeSecrets("secrets", req.GetSecrets())
	if err != nil {
		return nil, err
	}
	for _, sec := range secrets {
		ids = append(ids, s.keys.KeyID(sec))
	}
	res, err := s.keys.As(callerName(ctx)).Remove(ctx, pool, dedupe(ids))
	if err != nil {
		return nil, s.storeFailure(ctx, "Remove", pool, err)
	}
	s.observe.Removed(pool, len(res.Removed))
	for _, id := range res.Removed {
		s.log.InfoContext(ctx, "key removed", "pool", pool, "key_id", id, "actor", auth.Actor(ctx))
	}
	s.refresh(ctx, pool, res.Removed...)
	return &pb.RemoveResponse{
		RemovedCount:   int32(len(res.Removed)),
		RemovedKeyIds:  res.Removed,
		NotFoundKeyIds: res.NotFound,
	}, nil
}

// dedupe keeps the first occurrence of each id, so that a key named twice
// is reported once, as removed.
func dedupe(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := ids[:0]
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
