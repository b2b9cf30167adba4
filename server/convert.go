package server

import (
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/keybroker/keybroker/failure"
	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/config"
	"github.com/keybroker/keybroker/internal/secret"
	"github.com/keybroker/keybroker/internal/store"
)

var statesToProto = map[store.State]pb.KeyState{
	store.Active:      pb.KeyState_KEY_STATE_ACTIVE,
	store.CoolingDown: pb.KeyState_KEY_STATE_COOLING_DOWN,
	store.Suspect:     pb.KeyState_KEY_STATE_SUSPECT,
	store.Disabled:    pb.KeyState_KEY_STATE_DISABLED,
	store.Quarantined: pb.KeyState_KEY_STATE_QUARANTINED,
}

var kindsToProto = map[failure.Kind]pb.FailureKind{
	failure.InvalidKey:       pb.FailureKind_FAILURE_KIND_INVALID_KEY,
	failure.QuotaExhausted:   pb.FailureKind_FAILURE_KIND_QUOTA_EXHAUSTED,
	failure.RateLimited:      pb.FailureKind_FAILURE_KIND_RATE_LIMITED,
	failure.PermissionDenied: pb.FailureKind_FAILURE_KIND_PERMISSION_DENIED,
	failure.Transient:        pb.FailureKind_FAILURE_KIND_TRANSIENT,
	failure.Unclassified:     pb.FailureKind_FAILURE_KIND_UNCLASSIFIED,
}

func stateToProto(st store.State) pb.KeyState { return statesToProto[st] }

// stateFromProto maps a filter; unspecified is "" (every state), and ok is
// false for a number that names no state.
func stateFromProto(st pb.KeyState) (s store.State, ok bool) {
	if st == pb.KeyState_KEY_STATE_UNSPECIFIED {
		return "", true
	}
	for k, v := range statesToProto {
		if v == st {
			return k, true
		}
	}
	return "", false
}

func kindToProto(k failure.Kind) pb.FailureKind { return kindsToProto[k] }

func kindFromProto(k pb.FailureKind) (failure.Kind, bool) {
	if k == pb.FailureKind_FAILURE_KIND_UNSPECIFIED {
		return failure.Unspecified, true
	}
	for f, v := range kindsToProto {
		if v == k {
			return f, true
		}
	}
	return failure.Unspecified, false
}

// timestamp converts a time, leaving zero times unset.
func timestamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func keyToProto(k store.Key, reveal bool) *pb.Key {
	out := &pb.Key{
		KeyId:             k.ID,
		MaskedSecret:      secret.Mask(k.Secret),
		State:             stateToProto(k.State),
		Reason:            k.Reason,
		StateUntil:        timestamp(k.Until),
		AddTime:           timestamp(k.Added),
		LastUsedTime:      timestamp(k.LastUsed),
		LastValidatedTime: timestamp(k.LastValidated),
		LeaseCount:        k.Leases,
		FailureCount:      k.Failures,
		LastFailureKind:   kindToProto(k.LastFailure),
		Balance:           balanceToProto(k.Balance, k.LastValidated),
	}
	if reveal {
		out.Secret = k.Secret
	}
	return out
}

func balanceToProto(b *store.Balance, checked time.Time) *pb.KeyBalance {
	if b == nil {
		return nil
	}
	return &pb.KeyBalance{LimitUsd: b.LimitUSD, UsedUsd: b.UsedUSD, ExpireTime: timestamp(b.Expires), CheckTime: timestamp(checked)}
}

// changeToProto maps either end of a recorded change: a state, Removed, or
// "" (not in the pool) as unspecified.
func changeToProto(st store.State) pb.KeyState {
	if st == store.Removed {
		return pb.KeyState_KEY_STATE_REMOVED
	}
	return stateToProto(st)
}

func eventToProto(e store.AuditEntry) *pb.KeyEvent {
	return &pb.KeyEvent{
		Time:          timestamp(e.Time),
		KeyId:         e.KeyID,
		PreviousState: changeToProto(e.From),
		State:         changeToProto(e.To),
		Reason:        e.Reason,
		Actor:         e.Actor,
		StateUntil:    timestamp(e.Until),
	}
}

func countsToProto(c store.Counts) *pb.PoolCounts {
	return &pb.PoolCounts{
		Total: c.Total, Active: c.Active, CoolingDown: c.CoolingDown,
		Suspect: c.Suspect, Disabled: c.Disabled, Quarantined: c.Quarantined,
	}
}

func holdToProto(h store.Hold, p config.Pool) *pb.RemovalHold {
	return &pb.RemovalHold{
		Held:          h.Held(),
		HeldCount:     h.Keys,
		Reason:        h.Reason,
		Since:         timestamp(h.Since),
		RecentCount:   h.Recent,
		MaxRemovals:   p.MaxRemovals.String(),
		RemovalWindow: durationpb.New(time.Duration(p.RemovalWindow)),
	}
}
