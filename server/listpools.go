package server

import (
	"context"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/auth"
)

// ListPools lists the pools with their counts per state. A caller limited
// to some pools sees only those.
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
		resp.Pools = append(resp.Pools, &pb.PoolSummary{Pool: name, Counts: &pb.PoolCounts{
			Total: c.Total, Active: c.Active, CoolingDown: c.CoolingDown, Suspect: c.Suspect, Disabled: c.Disabled,
		}})
	}
	return resp, nil
}
