package server_test

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/keybroker/keybroker/failure"
	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/store"
	"github.com/keybroker/keybroker/internal/testkit"
)

func TestGetRandom(t *testing.T) {
	h := newHarness(t)

	t.Run("unknown pool is empty", func(t *testing.T) {
		_, err := h.client.GetRandom(h.ctx(t), &pb.GetRandomRequest{Pool: "gr-never-filled"})
		d := wantReason(t, err, codes.FailedPrecondition, pb.ErrorReason_ERROR_REASON_POOL_EMPTY)
		if d.retry != nil {
			t.Errorf("POOL_EMPTY carries RetryInfo %v; waiting does not fill a pool", d.retry)
		}
		if got := d.info.GetMetadata()["pool"]; got != "gr-never-filled" {
			t.Errorf("ErrorInfo metadata pool %q", got)
		}
	})

	t.Run("all keys cooling down", func(t *testing.T) {
		const pool = "gr-cooling"
		ids := h.add(t, pool, "sk-gr-cool-000001", "sk-gr-cool-000002")
		for i, wait := range []time.Duration{20 * time.Second, 7 * time.Second} {
			h.report(t, &pb.ReportFailureRequest{Pool: pool, Key: &pb.ReportFailureRequest_KeyId{KeyId: ids[i]},
				HttpStatus: 429, ErrorCode: "rate_limit_exceeded", RetryAfter: durationpb.New(wait)})
		}
		_, err := h.client.GetRandom(h.ctx(t), &pb.GetRandomRequest{Pool: pool})
		d := wantReason(t, err, codes.Unavailable, pb.ErrorReason_ERROR_REASON_NO_HEALTHY_KEY)
		if d.retry == nil {
			t.Fatal("no RetryInfo while every key cools down")
		}
		// The first key returns 7s from now (the clock stands still).
		if delay := d.retry.GetRetryDelay().AsDuration(); delay <= 0 || delay > 7*time.Second {
			t.Fatalf("retry delay %s, want within (0, 7s]", delay)
		}
	})

	t.Run("only parked keys", func(t *testing.T) {
		const pool = "gr-parked"
		ids := h.add(t, pool, "sk-gr-parked-0001", "sk-gr-parked-0002")
		// Parked as the worker parks keys: reports alone never park a
		// pool's last active key, nor for longer than suspect_timeout.
		for i, k := range []failure.Kind{failure.InvalidKey, failure.QuotaExhausted} {
			if _, err := h.store.Report(t.Context(), pool, ids[i], store.Failure{Kind: k, Reason: "parked"}); err != nil {
				t.Fatal(err)
			}
		}
		_, err := h.client.GetRandom(h.ctx(t), &pb.GetRandomRequest{Pool: pool})
		d := wantReason(t, err, codes.FailedPrecondition, pb.ErrorReason_ERROR_REASON_NO_HEALTHY_KEY)
		if d.retry != nil {
			t.Fatalf("RetryInfo %v for suspect and disabled keys; waiting does not help", d.retry)
		}
	})

	t.Run("lease", func(t *testing.T) {
		for _, tc := range []struct {
			pool string
			ttl  time.Duration
		}{
			{"openai-lease", openAILeaseTTL}, // declared with its own lease_ttl
			{"gr-lease", defaultLeaseTTL},    // undeclared: the defaults
		} {
			sec := "sk-gr-lease-" + tc.pool
			id := h.add(t, tc.pool, sec)[0]
			got, err := h.client.GetRandom(h.ctx(t), &pb.GetRandomRequest{Pool: tc.pool})
			if err != nil {
				t.Fatal(err)
			}
			if got.GetKeyId() != id || got.GetSecret() != sec {
				t.Fatalf("%s: leased %s %q, want %s %q", tc.pool, got.GetKeyId(), got.GetSecret(), id, sec)
			}
			if k := h.key(t, tc.pool, id); k.GetSecret() != got.GetSecret() {
				t.Fatalf("%s: GetAll reveals %q for %s, GetRandom said %q", tc.pool, k.GetSecret(), id, got.GetSecret())
			}
			// Lease counts are added up in memory and written every second.
			var k *pb.Key
			testkit.Eventually(t, 10*time.Second, 20*time.Millisecond, tc.pool+": the lease counted in Redis", func() bool {
				k = h.key(t, tc.pool, id)
				return k.GetLeaseCount() == 1
			})
			if !k.GetLastUsedTime().AsTime().Equal(clockStart) {
				t.Errorf("%s: last_used %s, want %s", tc.pool, k.GetLastUsedTime().AsTime(), clockStart)
			}
			if want := h.clock.Now().Add(tc.ttl); !got.GetLease().GetExpireTime().AsTime().Equal(want) {
				t.Errorf("%s: lease expires %s, want %s", tc.pool, got.GetLease().GetExpireTime().AsTime(), want)
			}
			rep := h.report(t, &pb.ReportFailureRequest{Pool: tc.pool, Key: &pb.ReportFailureRequest_LeaseId{LeaseId: got.GetLease().GetLeaseId()}, HttpStatus: 503})
			if rep.GetKeyId() != id || rep.GetKind() != pb.FailureKind_FAILURE_KIND_TRANSIENT {
				t.Errorf("%s: report by lease: key %s kind %s, want %s transient", tc.pool, rep.GetKeyId(), rep.GetKind(), id)
			}
		}
	})

	t.Run("only active keys, every one of them", func(t *testing.T) {
		const pool = "gr-spread"
		const active = 5
		secrets := make([]string, active+3)
		for i := range secrets {
			secrets[i] = fmt.Sprintf("sk-gr-spread-%04d", i)
		}
		ids := h.add(t, pool, secrets...)
		parked := map[string]bool{ids[active]: true, ids[active+1]: true, ids[active+2]: true}
		h.report(t, &pb.ReportFailureRequest{Pool: pool, Key: &pb.ReportFailureRequest_KeyId{KeyId: ids[active]}, HttpStatus: 429})
		h.report(t, &pb.ReportFailureRequest{Pool: pool, Key: &pb.ReportFailureRequest_KeyId{KeyId: ids[active+1]}, HttpStatus: 401})
		h.report(t, &pb.ReportFailureRequest{Pool: pool, Key: &pb.ReportFailureRequest_KeyId{KeyId: ids[active+2]}, HttpStatus: 403})

		// With 5 equally likely keys, the chance that 400 draws miss one
		// of them is at most 5 * (4/5)^400, about 1e-38.
		const draws = 400
		seen := map[string]int{}
		for range draws {
			got, err := h.client.GetRandom(h.ctx(t), &pb.GetRandomRequest{Pool: pool})
			if err != nil {
				t.Fatal(err)
			}
			if parked[got.GetKeyId()] {
				t.Fatalf("GetRandom leased %s, which is not active", got.GetKeyId())
			}
			seen[got.GetKeyId()]++
		}
		for _, id := range ids[:active] {
			if seen[id] == 0 {
				t.Errorf("active key %s never leased in %d draws: %v", id, draws, seen)
			}
		}
		if len(seen) != active {
			t.Errorf("leased %d distinct keys, want %d: %v", len(seen), active, seen)
		}
	})
}
