package server

import (
	"context"
	"time"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/auth"
)

// ListPools lists the pools with their counts per state and the state of
// their removal brake. A caller limited to some pools sees only those.
func (s *Service) ListPools(ctx context.Context, _ *pb.ListPoolsRequest) (*pb.ListPoolsResponse, error) {
	names, err := s.keys.Pools(ctx)
	if err != nil {
		return nil, s.storeFailure(ctx, "ListPools", "", err)
	}
	principal, authenticated := auth.FromContext(ctx)
	resp := &pb.ListPoolsResponse{}
	for _, name := range names {
		if authenticated && !principal.Allows(name) {
			continue
		}
		c, err := s.keys.Counts(ctx, name)
		if err != nil {
			return nil, s.storeFailure(ctx, "ListPools", name, err)
		}
		policy := s.policies.Pool(name)
		h, err := s.keys.Hold(ctx, name, time.Duration(policy.RemovalWindow))
		if err != nil {
			return nil, s.storeFailure(ctx, "ListPools", name, err)
		}
		resp.Pools = append(resp.Pools, &pb.PoolSummary{Pool: name, Counts: countsToProto(c), RemovalHold: holdToProto(h, policy)})
	}
	return resp, nil
}
