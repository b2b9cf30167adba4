package server_test

import (
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
)

const (
	kindInvalid    = pb.FailureKind_FAILURE_KIND_INVALID_KEY
	kindQuota      = pb.FailureKind_FAILURE_KIND_QUOTA_EXHAUSTED
	kindRate       = pb.FailureKind_FAILURE_KIND_RATE_LIMITED
	kindPermission = pb.FailureKind_FAILURE_KIND_PERMISSION_DENIED
	kindTransient  = pb.FailureKind_FAILURE_KIND_TRANSIENT

	stateActive   = pb.KeyState_KEY_STATE_ACTIVE
	stateCooling  = pb.KeyState_KEY_STATE_COOLING_DOWN
	stateSuspect  = pb.KeyState_KEY_STATE_SUSPECT
	stateDisabled = pb.KeyState_KEY_STATE_DISABLED
)

// TestReportFailureClassifies sends the provider error shapes of
// docs/design.md ("Failure classification") through the RPC and checks
// both the answer and the stored key.
func TestReportFailureClassifies(t *testing.T) {
	h := newHarness(t)
	now := h.clock.Now()

	tests := []struct {
		name   string
		pool   string // its policy (provider, cooldowns) is in policyYAML
		report *pb.ReportFailureRequest

		kind   pb.FailureKind
		state  pb.KeyState
		reason string
		until  time.Time // zero: no state_until
	}{
		{
			name: "openai 401 invalid_api_key", pool: "oa-invalid",
			report: &pb.ReportFailureRequest{HttpStatus: 401, ErrorType: "invalid_request_error", ErrorCode: "invalid_api_key",
				ErrorMessage: "Incorrect API key provided: sk-abc***xyz. You can find your API key at https://platform.openai.com/account/api-keys."},
			kind: kindInvalid, state: stateSuspect, reason: "invalid_api_key",
		},
		{
			name: "openai 429 insufficient_quota", pool: "oa-quota",
			report: &pb.ReportFailureRequest{HttpStatus: 429, ErrorType: "insufficient_quota", ErrorCode: "insufficient_quota",
				ErrorMessage: "You exceeded your current quota, please check your plan and billing details."},
			kind: kindQuota, state: stateDisabled, reason: "insufficient_quota",
		},
		{
			name: "openai 429 rate_limit_exceeded with retry_after", pool: "oa-rate",
			report: &pb.ReportFailureRequest{HttpStatus: 429, ErrorType: "requests", ErrorCode: "rate_limit_exceeded",
				ErrorMessage: "Rate limit reached for gpt-4o in organization org-x on requests per min (RPM): Limit 500, Used 500, Requested 1.",
				RetryAfter:   durationpb.New(7 * time.Second)},
			kind: kindRate, state: stateCooling, reason: "rate_limit_exceeded", until: now.Add(7 * time.Second),
		},
		{
			name: "429 without retry_after cools for the pool default", pool: "oa-rate-default",
			report: &pb.ReportFailureRequest{HttpStatus: 429, ErrorCode: "rate_limit_exceeded"},
			kind:   kindRate, state: stateCooling, reason: "rate_limit_exceeded", until: now.Add(defaultCooldown),
		},
		{
			name: "retry_after over cooldown_max is capped", pool: "oa-rate-capped",
			report: &pb.ReportFailureRequest{HttpStatus: 429, ErrorCode: "rate_limit_exceeded", RetryAfter: durationpb.New(3 * time.Hour)},
			kind:   kindRate, state: stateCooling, reason: "rate_limit_exceeded", until: now.Add(defaultMax),
		},
		{
			name: "the largest retry_after protobuf allows is capped too", pool: "oa-rate-huge",
			report: &pb.ReportFailureRequest{HttpStatus: 429, ErrorCode: "rate_limit_exceeded", RetryAfter: &durationpb.Duration{Seconds: 315_576_000_000}},
			kind:   kindRate, state: stateCooling, reason: "rate_limit_exceeded", until: now.Add(defaultMax),
		},
		{
			name: "anthropic 400 credit balance too low", pool: "anthropic-credit",
			report: &pb.ReportFailureRequest{HttpStatus: 400, ErrorType: "invalid_request_error",
				ErrorMessage: "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits."},
			kind: kindQuota, state: stateDisabled, reason: "credit_balance_too_low",
		},
		{
			name: "anthropic 529 overloaded changes nothing", pool: "anthropic-overloaded",
			report: &pb.ReportFailureRequest{HttpStatus: 529, ErrorType: "overloaded_error", ErrorMessage: "Overloaded"},
			kind:   kindTransient, state: stateActive, reason: "added",
		},
		{
			name: "gemini 400 API_KEY_INVALID", pool: "gemini-invalid",
			report: &pb.ReportFailureRequest{HttpStatus: 400, ErrorType: "INVALID_ARGUMENT", ErrorCode: "API_KEY_INVALID",
				ErrorMessage: "API key not valid. Please pass a valid API key."},
			kind: kindInvalid, state: stateSuspect, reason: "api_key_invalid",
		},
		{
			// Disabled until the daily reset, which is not a cooldown:
			// the pool's cooldown_max (1m) does not cap it.
			name: "gemini 429 per-day quota", pool: "gemini-daily",
			report: &pb.ReportFailureRequest{HttpStatus: 429, ErrorType: "RESOURCE_EXHAUSTED", ErrorCode: "GenerateRequestsPerDayPerProjectPerModel-FreeTier",
				ErrorMessage: "You exceeded your current quota, please check your plan and billing details."},
			kind: kindQuota, state: stateDisabled, reason: "daily_quota_exceeded", until: nextPacificMidnight,
		},
		{
			name: "gemini 429 per-minute with retry_after", pool: "gemini-minute",
			report: &pb.ReportFailureRequest{HttpStatus: 429, ErrorType: "RESOURCE_EXHAUSTED", ErrorCode: "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
				ErrorMessage: "Resource has been exhausted (e.g. check quota).", RetryAfter: durationpb.New(23 * time.Second)},
			kind: kindRate, state: stateCooling, reason: "resource_exhausted", until: now.Add(23 * time.Second),
		},
		{
			name: "403 parks the key", pool: "oa-403",
			report: &pb.ReportFailureRequest{HttpStatus: 403, ErrorMessage: "Forbidden"},
			kind:   kindPermission, state: stateDisabled, reason: "http_403",
		},
		{
			name: "openai-compatible relay: HTTP 200 admitting an empty balance", pool: "relay-quota",
			report: &pb.ReportFailureRequest{HttpStatus: 200, ErrorMessage: "该令牌额度已用尽 余额不足"},
			kind:   kindQuota, state: stateDisabled, reason: "quota_message",
		},
		{
			name: "explicit kind overrides a rate limit", pool: "oa-override-quota",
			report: &pb.ReportFailureRequest{HttpStatus: 429, ErrorCode: "rate_limit_exceeded", RetryAfter: durationpb.New(7 * time.Second), Kind: kindQuota},
			kind:   kindQuota, state: stateDisabled, reason: "reported_quota_exhausted",
		},
		{
			name: "explicit kind overrides a transient error", pool: "oa-override-rate",
			report: &pb.ReportFailureRequest{HttpStatus: 500, ErrorType: "server_error", Kind: kindRate},
			kind:   kindRate, state: stateCooling, reason: "reported_rate_limited", until: now.Add(defaultCooldown),
		},
		{
			name: "explicit kind agreeing with the classification keeps its reason", pool: "oa-override-same",
			report: &pb.ReportFailureRequest{HttpStatus: 401, ErrorCode: "invalid_api_key", Kind: kindInvalid},
			kind:   kindInvalid, state: stateSuspect, reason: "invalid_api_key",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// A second key: reports never park a pool's last active key.
			id := h.add(t, tc.pool, "sk-rf-"+tc.pool+"-0001", "sk-rf-"+tc.pool+"-spare")[0]
			if tc.until.IsZero() && (tc.state == stateSuspect || tc.state == stateDisabled) {
				// No validator checks these pools, so only time undoes a
				// report that parks a key: suspect_timeout, 10m.
				tc.until = now.Add(10 * time.Minute)
			}
			tc.report.Pool = tc.pool
			tc.report.Key = &pb.ReportFailureRequest_KeyId{KeyId: id}
			resp := h.report(t, tc.report)

			if resp.GetKeyId() != id || resp.GetKind() != tc.kind || resp.GetPreviousState() != stateActive ||
				resp.GetState() != tc.state || resp.GetReason() != tc.reason {
				t.Errorf("response: key %s kind %s %s→%s reason %q; want %s %s %s→%s %q",
					resp.GetKeyId(), resp.GetKind(), resp.GetPreviousState(), resp.GetState(), resp.GetReason(),
					id, tc.kind, stateActive, tc.state, tc.reason)
			}
			checkUntil(t, "response state_until", resp.GetStateUntil() != nil, resp.GetStateUntil().AsTime(), tc.until)

			k := h.key(t, tc.pool, id)
			if k.GetState() != tc.state || k.GetReason() != tc.reason || k.GetFailureCount() != 1 || k.GetLastFailureKind() != tc.kind {
				t.Errorf("stored key: %s %q failures %d last %s; want %s %q 1 %s",
					k.GetState(), k.GetReason(), k.GetFailureCount(), k.GetLastFailureKind(), tc.state, tc.reason, tc.kind)
			}
			checkUntil(t, "stored state_until", k.GetStateUntil() != nil, k.GetStateUntil().AsTime(), tc.until)
		})
	}
}

func checkUntil(t *testing.T, what string, set bool, got, want time.Time) {
	t.Helper()
	switch {
	case want.IsZero() && set:
		t.Errorf("%s %s, want none", what, got)
	case !want.IsZero() && (!set || !got.Equal(want)):
		t.Errorf("%s %s (set %v), want %s", what, got, set, want)
	}
}

// TestReportFailureCooldownExpires moves the clock past the end of a
// cooldown and of a daily quota: the keys come back by themselves. A
// suspect key in a pool a validator checks does not (the worker decides);
// the pool's last active key is never parked by a report.
func TestReportFailureCooldownExpires(t *testing.T) {
	h := newHarness(t)

	const cooling, daily, suspect = "cd-cooling", "gemini-daily", "cd-suspect"
	coolID := h.add(t, cooling, "sk-cd-cooling-0001")[0]
	dailyID := h.add(t, daily, "sk-cd-daily-00001", "sk-cd-daily-00002")[0]
	suspectIDs := h.add(t, suspect, "sk-cd-suspect-001", "sk-cd-suspect-002")
	suspectID := suspectIDs[0]

	rep := h.report(t, &pb.ReportFailureRequest{Pool: cooling, Key: &pb.ReportFailureRequest_KeyId{KeyId: coolID},
		HttpStatus: 429, ErrorCode: "rate_limit_exceeded", RetryAfter: durationpb.New(7 * time.Second)})
	until := rep.GetStateUntil().AsTime()
	h.report(t, &pb.ReportFailureRequest{Pool: daily, Key: &pb.ReportFailureRequest_KeyId{KeyId: dailyID},
		HttpStatus: 429, ErrorType: "RESOURCE_EXHAUSTED", ErrorCode: "GenerateRequestsPerDayPerProjectPerModel-FreeTier"})
	for _, id := range suspectIDs {
		h.report(t, &pb.ReportFailureRequest{Pool: suspect, Key: &pb.ReportFailureRequest_KeyId{KeyId: id}, HttpStatus: 401})
	}

	// A millisecond before the end the key is still cooling.
	h.clock.Advance(until.Sub(h.clock.Now()) - time.Millisecond)
	_, err := h.client.GetRandom(h.ctx(t), &pb.GetRandomRequest{Pool: cooling})
	d := wantReason(t, err, codes.Unavailable, pb.ErrorReason_ERROR_REASON_NO_HEALTHY_KEY)
	if delay := d.retry.GetRetryDelay().AsDuration(); delay <= 0 || delay > time.Millisecond {
		t.Errorf("retry delay %s a millisecond before the end, want within (0, 1ms]", delay)
	}

	h.clock.Advance(2 * time.Millisecond)
	got, err := h.client.GetRandom(h.ctx(t), &pb.GetRandomRequest{Pool: cooling})
	if err != nil {
		t.Fatalf("GetRandom after the cooldown: %v", err)
	}
	if got.GetKeyId() != coolID {
		t.Fatalf("leased %s, want %s", got.GetKeyId(), coolID)
	}
	if k := h.key(t, cooling, coolID); k.GetState() != stateActive || k.GetReason() != "recovered" || k.GetStateUntil() != nil {
		t.Errorf("recovered key: %s %q until %v, want active \"recovered\" with no until", k.GetState(), k.GetReason(), k.GetStateUntil())
	}

	// The daily quota resets at midnight in Los Angeles; GetAll alone
	// brings the key back.
	if k := h.key(t, daily, dailyID); k.GetState() != stateDisabled {
		t.Fatalf("daily key is %s before the reset, want disabled", k.GetState())
	}
	h.clock.Advance(nextPacificMidnight.Sub(h.clock.Now()))
	if k := h.key(t, daily, dailyID); k.GetState() != stateActive || k.GetReason() != "recovered" {
		t.Errorf("daily key after the reset: %s %q, want active \"recovered\"", k.GetState(), k.GetReason())
	}

	if k := h.key(t, suspect, suspectID); k.GetState() != stateSuspect {
		t.Errorf("suspect key after a day: %s, want suspect until the worker decides", k.GetState())
	}
	got, err = h.client.GetRandom(h.ctx(t), &pb.GetRandomRequest{Pool: suspect})
	if err != nil || got.GetKeyId() != suspectIDs[1] {
		t.Errorf("GetRandom in a pool reported down to its last key = %v, %v; want the kept key %s", got.GetKeyId(), err, suspectIDs[1])
	}
}

func TestReportFailureLeases(t *testing.T) {
	h := newHarness(t)
	const pool, other = "lease-home", "lease-other"
	const sec = "sk-lease-shared-0001"
	id := h.add(t, pool, sec)[0]
	if otherID := h.add(t, other, sec)[0]; otherID != id {
		t.Fatalf("one secret, two key ids: %s and %s", id, otherID)
	}
	got, err := h.client.GetRandom(h.ctx(t), &pb.GetRandomRequest{Pool: pool})
	if err != nil {
		t.Fatal(err)
	}
	leaseID := got.GetLease().GetLeaseId()
	byLease := func(p string) *pb.ReportFailureRequest {
		return &pb.ReportFailureRequest{Pool: p, Key: &pb.ReportFailureRequest_LeaseId{LeaseId: leaseID}, HttpStatus: 502}
	}

	t.Run("lease from another pool", func(t *testing.T) {
		// The key is in the other pool too, but the lease was not issued
		// for it.
		_, err := h.client.ReportFailure(h.ctx(t), byLease(other))
		wantReason(t, err, codes.NotFound, pb.ErrorReason_ERROR_REASON_LEASE_UNKNOWN)
		if k := h.key(t, other, id); k.GetFailureCount() != 0 {
			t.Errorf("the other pool's key counted %d failures", k.GetFailureCount())
		}
	})

	t.Run("key id not in the pool", func(t *testing.T) {
		_, err := h.client.ReportFailure(h.ctx(t), &pb.ReportFailureRequest{Pool: pool, Key: &pb.ReportFailureRequest_KeyId{KeyId: "0123456789abcdef"}, HttpStatus: 429})
		d := wantReason(t, err, codes.NotFound, pb.ErrorReason_ERROR_REASON_KEY_UNKNOWN)
		if d.info.GetMetadata()["pool"] != pool {
			t.Errorf("ErrorInfo metadata %v, want pool %s", d.info.GetMetadata(), pool)
		}
	})

	t.Run("expiry and grace", func(t *testing.T) {
		// Up to and including five minutes after expiry the lease counts.
		h.clock.Advance(defaultLeaseTTL + leaseGrace)
		if rep := h.report(t, byLease(pool)); rep.GetKeyId() != id {
			t.Fatalf("report at the end of the grace: key %s, want %s", rep.GetKeyId(), id)
		}
		h.clock.Advance(time.Millisecond)
		_, err := h.client.ReportFailure(h.ctx(t), byLease(pool))
		wantReason(t, err, codes.FailedPrecondition, pb.ErrorReason_ERROR_REASON_LEASE_EXPIRED)
		// The key id still works.
		h.report(t, &pb.ReportFailureRequest{Pool: pool, Key: &pb.ReportFailureRequest_KeyId{KeyId: id}, HttpStatus: 502})
		if k := h.key(t, pool, id); k.GetFailureCount() != 2 {
			t.Errorf("failure_count %d, want 2 (the expired lease's report not counted)", k.GetFailureCount())
		}
	})
}
