package server

import (
	"context"
	"time"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/auth"
	"github.com/keybroker/keybroker/internal/store"
)

// GetAll lists one page of a pool's keys in key id order.
func (s *Service) GetAll(ctx context.Context, req *pb.GetAllRequest) (*pb.GetAllResponse, error) {
	pool := req.GetPool()
	if err := validatePool(pool); err != nil {
		return nil, err
	}
	if req.GetState() == pb.KeyState_KEY_STATE_REMOVED {
		return nil, invalid("state", "removed keys are not listed; see GetKeyHistory for why a key was removed")
	}
	state, ok := stateFromProto(req.GetState())
	if !ok {
		return nil, invalid("state", "%d is not a KeyState", req.GetState())
	}
	size, err := pageSize(req.GetPageSize(), defaultPageSize)
	if err != nil {
		return nil, err
	}
	after, err := decodePageToken(req.GetPageToken(), pool, req.GetState())
	if err != nil {
		return nil, err
	}
	page, err := s.keys.List(ctx, pool, store.Query{State: state, After: after, Limit: size})
	if err != nil {
		return nil, s.storeFailure(ctx, "GetAll", pool, err)
	}
	policy := s.policies.Pool(pool)
	hold, err := s.keys.Hold(ctx, pool, time.Duration(policy.RemovalWindow))
	if err != nil {
		return nil, s.storeFailure(ctx, "GetAll", pool, err)
	}
	resp := &pb.GetAllResponse{
		Keys:        make([]*pb.Key, len(page.Keys)),
		Counts:      countsToProto(page.Counts),
		RemovalHold: holdToProto(hold, policy),
	}
	for i, k := range page.Keys {
		resp.Keys[i] = keyToProto(k, req.GetReveal())
		if k.Unreadable {
			s.log.WarnContext(ctx, "sealed value cannot be opened; key listed as unreadable (restore its data key or remove the key)",
				"pool", pool, "key_id", k.ID, "err", k.UnreadableErr)
		}
	}
	s.keyBudgets(ctx, pool, resp.GetKeys())
	if page.More {
		resp.NextPageToken = encodePageToken(pool, req.GetState(), page.Keys[len(page.Keys)-1].ID)
	}
	if req.GetReveal() {
		s.log.InfoContext(ctx, "secrets revealed", "pool", pool, "keys", len(page.Keys), "actor", auth.Actor(ctx))
	}
	return resp, nil
}
