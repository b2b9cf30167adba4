package server

import (
	"context"
	"fmt"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/auth"
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
	weights, err := validateWeights(req.GetWeights(), len(secrets))
	if err != nil {
		return nil, err
	}
	res, err := s.keys.As(callerName(ctx)).AddWeighted(ctx, pool, secrets, weights)
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

// maxWeight bounds a key's weight, so a typo cannot starve every other key
// and a pool's total weight stays far from overflowing.
const maxWeight = 1_000_000

// validateWeights checks Add's optional weights: none, or one per secret,
// each at most maxWeight. It returns nil for none.
func validateWeights(weights []uint32, secrets int) ([]uint32, error) {
	if len(weights) == 0 {
		return nil, nil
	}
	if len(weights) != secrets {
		return nil, invalid("weights", "must be empty or hold one weight per secret: got %d weights for %d secrets", len(weights), secrets)
	}
	for i, w := range weights {
		if w > maxWeight {
			return nil, invalid(fmt.Sprintf("weights[%d]", i), "is %d, more than %d", w, maxWeight)
		}
	}
	return weights, nil
}
