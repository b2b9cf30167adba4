package server

import (
	"context"

	"github.com/keybroker/keybroker/auth"
	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
)

// Add puts secrets into a pool, idempotently.
func (s *Service) Add(ctx context.Context, req *pb.AddRequest) (*pb.AddResponse, error) {
	pool := req.GetPool()
	if err := validatePool(pool); err != nil {
		return nil, err
	}
	if n := len(req.GetSecrets()); n == 0 || n > maxSecretsPerCall {
		return nil, invalid("secrets", "must hold 1 to %d secrets, got %d; split larger imports", maxSecretsPerCall, n)
	}
	secrets, err := normalizeSecrets("secrets", req.GetSecrets())
	if err != nil {
		return nil, err
	}
	res, err := s.keys.Add(ctx, pool, secrets)
	if err != nil {
		return nil, s.storeFailure(ctx, "Add", pool, err)
	}
	added := res.AddedCount()
	s.observe.Added(pool, added)
	s.log.InfoContext(ctx, "keys added", "pool", pool, "added", added, "present", len(secrets)-added, "actor", auth.Actor(ctx))
	return &pb.AddResponse{
		AddedCount:   int32(added),
		PresentCount: int32(len(secrets) - added),
		KeyIds:       res.KeyIDs,
	}, nil
}
