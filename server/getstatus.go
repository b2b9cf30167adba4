package server

import (
	"context"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
)

// StatusSource is what GetStatus reports beyond the store: the binary's
// version and, when the worker runs in this process, its counters.
type StatusSource struct {
	Version string
	Started time.Time
	// Worker returns the in-process worker's status; nil when the worker
	// runs elsewhere.
	Worker func() *pb.WorkerStatus
}

// WithStatus sets what GetStatus says about this broker.
func WithStatus(src StatusSource) Option { return func(s *Service) { s.status = src } }

// GetStatus is one screen of the deployment. A store that does not answer
// is part of the answer (store_reachable false, no pools), not an error:
// that is when an operator asks.
func (s *Service) GetStatus(ctx context.Context, _ *pb.GetStatusRequest) (*pb.GetStatusResponse, error) {
	resp := &pb.GetStatusResponse{Version: s.status.Version}
	if !s.status.Started.IsZero() {
		resp.StartTime = timestamppb.New(s.status.Started)
	}
	if s.status.Worker != nil {
		resp.Worker = s.status.Worker()
	}
	if err := s.keys.Ping(ctx); err != nil {
		s.log.WarnContext(ctx, "status: key store unreachable", "err", err)
		return resp, nil
	}
	resp.StoreReachable = true
	pools, err := s.ListPools(ctx, &pb.ListPoolsRequest{})
	if err != nil {
		return nil, err
	}
	resp.Pools = pools.GetPools()
	return resp, nil
}
