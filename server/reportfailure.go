package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/keybroker/keybroker/failure"
	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/auth"
	"github.com/keybroker/keybroker/internal/config"
	"github.com/keybroker/keybroker/internal/lease"
	"github.com/keybroker/keybroker/internal/store"
)

// leaseGrace is how long after its expiry a lease is still accepted by
// ReportFailure: a call that started inside the lease may fail after it.
const leaseGrace = 5 * time.Minute

// ReportFailure classifies what the provider said and moves the key.
func (s *Service) ReportFailure(ctx context.Context, req *pb.ReportFailureRequest) (*pb.ReportFailureResponse, error) {
	pool := req.GetPool()
	if err := validatePool(pool); err != nil {
		return nil, err
	}
	if !s.reportLimits.callers.allow(callerKey(ctx), s.now()) {
		return nil, statusError(codes.ResourceExhausted, pb.ErrorReason_ERROR_REASON_REPORTS_RATE_LIMITED, pool, time.Second,
			"too many failure reports from this caller; the key is already parked by the first ones")
	}
	id, byLease, err := s.reportedKey(pool, req)
	if err != nil {
		return nil, err
	}
	if !s.reportLimits.keys.allow(pool+"/"+id, s.now()) {
		return nil, statusError(codes.ResourceExhausted, pb.ErrorReason_ERROR_REASON_REPORTS_RATE_LIMITED, pool, time.Second,
			"too many failure reports about key %s; the first ones already decided its state", id)
	}
	obs, explicit, err := observation(req)
	if err != nil {
		return nil, err
	}
	policy := s.policies.Pool(pool)
	now := s.now()
	verdict := policy.Rules().Classify(policy.Provider, obs, now)
	if explicit != failure.Unspecified && explicit != verdict.Kind {
		verdict = failure.Verdict{Kind: explicit, Reason: "reported_" + explicit.String(), RetryAfter: obs.RetryAfter}
	}
	// No report id on the direct path: a dedup id is a Redis write (kept an
	// hour) that only a replay needs, and every caller could make them.
	f := reportedFailure(policy, verdict, now)
	caller := callerName(ctx)
	rctx, cancel := reportBudget(ctx)
	tr, err := s.keys.As(caller).Report(rctx, pool, id, f)
	outOfTime := rctx.Err() != nil && ctx.Err() == nil
	cancel()
	if errors.Is(err, store.ErrKeyUnknown) {
		return nil, statusError(codes.NotFound, pb.ErrorReason_ERROR_REASON_KEY_UNKNOWN, pool, 0, "key %s is not in pool %q (removed?)", id, pool)
	}
	if err != nil && (store.IsUnavailable(err) || outOfTime) && ctx.Err() == nil {
		// A queued report may be replayed more than once (Redis flapping):
		// it gets an id so that only its first application counts.
		f.ID = newReportID()
		return s.queue(ctx, queuedReport{pool: pool, id: id, failure: f, actor: caller, caller: callerKey(ctx)}, verdict, byLease, err)
	}
	if err != nil {
		return nil, s.storeFailure(ctx, "ReportFailure", pool, err)
	}
	if tr.To != store.Active {
		s.refresh(ctx, pool, id)
	}
	s.logTransition(ctx, pool, id, verdict, tr)
	s.observe.Reported(pool, verdict, tr)
	return &pb.ReportFailureResponse{
		KeyId:         id,
		Kind:          kindToProto(verdict.Kind),
		PreviousState: stateToProto(tr.From),
		State:         stateToProto(tr.To),
		StateUntil:    timestamp(tr.Until),
		Reason:        tr.Reason,
		KeptActive:    tr.Floor,
	}, nil
}

// Report budget: a report waits for the key store at most this share of
// the caller's remaining deadline (and at most reportWaitMax), then is
// queued. Under a 1s client deadline a frozen Redis would otherwise eat
// the whole deadline and the report would end DEADLINE_EXCEEDED, lost.
// Reports carry an id, so one that did reach Redis and is replayed from
// the queue is applied once.
const (
	reportWaitShare = 5 // one fifth
	reportWaitMax   = 500 * time.Millisecond
)

// reportBudget bounds the store call of a report by a small share of the
// caller's remaining deadline.
func reportBudget(ctx context.Context) (context.Context, context.CancelFunc) {
	wait := reportWaitMax
	if dl, ok := ctx.Deadline(); ok {
		wait = min(wait, time.Until(dl)/reportWaitShare)
	}
	return context.WithTimeout(ctx, wait)
}

// reportedFailure is what a report does to a key under the pool's policy:
// the classified failure; a key it disables is re-checked after the
// disabled interval; where the pool's validator cannot check this kind of
// refusal (or there is none) the park ends after suspect_timeout, so that
// a lying caller cannot take keys out for good; and reports never park the
// pool's last min_active active keys.
func reportedFailure(policy config.Pool, v failure.Verdict, now time.Time) store.Failure {
	f := store.Failure{Kind: v.Kind, Reason: v.Reason, Until: policy.Until(v, now),
		Park: time.Duration(policy.ReportPark(v.Kind)), MinActive: policy.MinActive}
	if policy.Validator.Checks() {
		f.Recheck = time.Duration(policy.Validator.DisabledInterval)
	}
	return f
}

// reportedKey resolves the lease or key id the report is about, and says
// whether it came from a lease (signed by this deployment, so the key is
// known to belong to the pool).
func (s *Service) reportedKey(pool string, req *pb.ReportFailureRequest) (string, bool, error) {
	switch k := req.GetKey().(type) {
	case *pb.ReportFailureRequest_KeyId:
		return k.KeyId, false, validateKeyID("key_id", k.KeyId)
	case *pb.ReportFailureRequest_LeaseId:
		id, expire, err := s.leases.Verify(pool, k.LeaseId)
		switch {
		case errors.Is(err, lease.ErrMalformed):
			return "", false, invalid("lease_id", "is not a lease id from GetRandom")
		case err != nil:
			return "", false, statusError(codes.NotFound, pb.ErrorReason_ERROR_REASON_LEASE_UNKNOWN, pool, 0, "lease was not issued for pool %q by this deployment", pool)
		case s.now().After(expire.Add(leaseGrace)):
			return "", false, statusError(codes.FailedPrecondition, pb.ErrorReason_ERROR_REASON_LEASE_EXPIRED, pool, 0,
				"lease expired at %s; report by key_id instead", expire.UTC().Format(time.RFC3339))
		}
		return id, true, nil
	}
	return "", false, invalid("key", "one of lease_id or key_id is required")
}

// observation validates and collects what the caller saw.
func observation(req *pb.ReportFailureRequest) (failure.Observation, failure.Kind, error) {
	var obs failure.Observation
	if st := req.GetHttpStatus(); st != 0 && (st < 100 || st > 599) {
		return obs, 0, invalid("http_status", "must be 0 (no response) or 100 to 599, got %d", st)
	}
	for _, f := range []struct {
		name, value string
		limit       int
	}{
		{"error_type", req.GetErrorType(), maxErrorField},
		{"error_code", req.GetErrorCode(), maxErrorField},
		{"error_message", req.GetErrorMessage(), maxErrorMessage},
	} {
		if err := validateText(f.name, f.value, f.limit); err != nil {
			return obs, 0, err
		}
	}
	var retry time.Duration
	if ra := req.GetRetryAfter(); ra != nil {
		if err := ra.CheckValid(); err != nil || ra.AsDuration() < 0 {
			return obs, 0, invalid("retry_after", "must be a non-negative duration")
		}
		retry = ra.AsDuration()
	}
	kind, ok := kindFromProto(req.GetKind())
	if !ok {
		return obs, 0, invalid("kind", "%d is not a FailureKind", req.GetKind())
	}
	obs = failure.Observation{
		HTTPStatus:   int(req.GetHttpStatus()),
		ErrorType:    req.GetErrorType(),
		ErrorCode:    req.GetErrorCode(),
		ErrorMessage: req.GetErrorMessage(),
		RetryAfter:   retry,
	}
	return obs, kind, nil
}

func (s *Service) logTransition(ctx context.Context, pool, id string, v failure.Verdict, tr store.Transition) {
	// A cooling key hit again may have its end moved; any other report
	// that leaves the state as it was changed nothing.
	if tr.Floor {
		s.log.InfoContext(ctx, "failure reported; key kept active: the pool is down to its min_active keys", "pool", pool, "key_id", id,
			"kind", v.Kind.String(), "reason", v.Reason, "actor", auth.Actor(ctx))
		return
	}
	if tr.From == tr.To && (tr.To != store.CoolingDown || v.Kind != failure.RateLimited) {
		s.log.DebugContext(ctx, "failure reported", "pool", pool, "key_id", id, "kind", v.Kind.String(), "reason", v.Reason, "state", string(tr.To))
		return
	}
	s.log.InfoContext(ctx, "key state changed", "pool", pool, "key_id", id, "kind", v.Kind.String(),
		"reason", v.Reason, "from", string(tr.From), "to", string(tr.To), "until", tr.Until, "actor", auth.Actor(ctx))
}

// callerName is the authenticated caller that the auth interceptor handed
// to the handler, read once per call and passed down as an argument (to
// the store's audit trail, to a report queued for later); "" when
// authentication is off.
func callerName(ctx context.Context) string {
	if p, ok := auth.FromContext(ctx); ok {
		return p.Name
	}
	return ""
}

// newReportID names one report, so that applying it twice is harmless.
func newReportID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read does not fail on supported platforms
	return hex.EncodeToString(b[:])
}
