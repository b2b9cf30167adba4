package server

import (
	"context"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/store"
)

// GetKeyHistory returns one page of a key's audit trail, newest first.
func (s *Service) GetKeyHistory(ctx context.Context, req *pb.GetKeyHistoryRequest) (*pb.GetKeyHistoryResponse, error) {
	pool, id := req.GetPool(), req.GetKeyId()
	if err := validatePool(pool); err != nil {
		return nil, err
	}
	if err := validateKeyID("key_id", id); err != nil {
		return nil, err
	}
	size, err := pageSize(req.GetPageSize(), defaultEventPage)
	if err != nil {
		return nil, err
	}
	before, err := decodeHistoryToken(req.GetPageToken(), pool, id)
	if err != nil {
		return nil, err
	}
	entries, more, err := s.keys.History(ctx, pool, store.HistoryQuery{KeyID: id, Before: before, Limit: size})
	if err != nil {
		return nil, s.storeFailure(ctx, "GetKeyHistory", pool, err)
	}
	resp := &pb.GetKeyHistoryResponse{Events: make([]*pb.KeyEvent, len(entries))}
	for i, e := range entries {
		resp.Events[i] = eventToProto(e)
	}
	if more {
		resp.NextPageToken = encodeHistoryToken(pool, id, entries[len(entries)-1].ID)
	}
	return resp, nil
}
