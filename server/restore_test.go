package server_test

import (
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/keybroker/keybroker/failure"
	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/store"
)

// quarantine moves keys to quarantined the way the worker does: a first
// bad answer, then the confirming one confirm_delay later, under the
// pool's brake.
func (h *harness) quarantine(t *testing.T, pool string, ids ...string) []store.Transition {
	t.Helper()
	policy := h.policies.Pool(pool)
	check := func(id string, seen store.State) store.Transition {
		tr, err := h.store.Apply(t.Context(), pool, id, store.Check{Seen: seen, Kind: failure.InvalidKey, Reason: "invalid_api_key",
			Next: store.Schedule{Active: time.Hour, Disabled: time.Hour, Retry: time.Minute}, Actor: "worker",
			ConfirmDelay: time.Duration(policy.ConfirmDelay),
			Brake:        store.Brake{Count: policy.MaxRemovals.Count, Percent: policy.MaxRemovals.Percent, Window: time.Duration(policy.RemovalWindow)}})
		if err != nil {
			t.Fatal(err)
		}
		return tr
	}
	for _, id := range ids {
		check(id, store.Active)
	}
	h.clock.Advance(time.Duration(policy.ConfirmDelay))
	out := make([]store.Transition, len(ids))
	for i, id := range ids {
		out[i] = check(id, store.Suspect)
	}
	return out
}

// TestRestoreOneKeyAndAWholePool: quarantined keys are listed by GetAll's
// filter and counted, never leased, and come back by id or all at once.
func TestRestoreOneKeyAndAWholePool(t *testing.T) {
	h := newHarness(t)
	const pool = "restore-me"
	ids := h.add(t, pool, "sk-restore-0001", "sk-restore-0002", "sk-restore-0003", "sk-restore-0004")
	// restore-me's brake (max_removals: 100%) lets every key go.
	for _, id := range ids[:3] {
		h.quarantine(t, pool, id)
	}
	page, err := h.client.GetAll(h.ctx(t), &pb.GetAllRequest{Pool: pool, State: pb.KeyState_KEY_STATE_QUARANTINED})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.GetKeys()) != 3 || page.GetCounts().GetQuarantined() != 3 || page.GetCounts().GetActive() != 1 {
		t.Fatalf("GetAll(quarantined) = %d keys, counts %v", len(page.GetKeys()), page.GetCounts())
	}
	for range 20 {
		got, err := h.client.GetRandom(h.ctx(t), &pb.GetRandomRequest{Pool: pool})
		if err != nil || got.GetKeyId() != ids[3] {
			t.Fatalf("GetRandom = %v, %v; only the active key may be leased", got.GetKeyId(), err)
		}
	}

	one, err := h.client.Restore(h.ctx(t), &pb.RestoreRequest{Pool: pool, KeyIds: []string{ids[0], ids[3], "00000000000000ff"}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(one.GetRestoredKeyIds(), ids[:1]) || !slices.Equal(one.GetUnchangedKeyIds(), ids[3:]) ||
		!slices.Equal(one.GetNotFoundKeyIds(), []string{"00000000000000ff"}) {
		t.Fatalf("Restore(ids) = %v", one)
	}
	all, err := h.client.Restore(h.ctx(t), &pb.RestoreRequest{Pool: pool, AllQuarantined: true})
	if err != nil || all.GetRestoredCount() != 2 {
		t.Fatalf("Restore(all_quarantined) = %v, %v", all, err)
	}
	for id, k := range h.keys(t, pool) {
		if k.GetState() != pb.KeyState_KEY_STATE_ACTIVE {
			t.Fatalf("key %s is %s after restore", id, k.GetState())
		}
	}
	hist, err := h.client.GetKeyHistory(h.ctx(t), &pb.GetKeyHistoryRequest{Pool: pool, KeyId: ids[0]})
	if err != nil || hist.GetEvents()[0].GetReason() != "restored_by_admin" || hist.GetEvents()[0].GetPreviousState() != pb.KeyState_KEY_STATE_QUARANTINED {
		t.Fatalf("history = %v, %v", hist.GetEvents(), err)
	}

	for _, bad := range []*pb.RestoreRequest{
		{Pool: pool},
		{Pool: pool, KeyIds: ids[:1], AllQuarantined: true},
		{Pool: pool, KeyIds: []string{"not a key id"}},
	} {
		if _, err := h.client.Restore(h.ctx(t), bad); status.Code(err) != codes.InvalidArgument {
			t.Errorf("Restore(%v) = %v, want INVALID_ARGUMENT", bad, err)
		}
	}
}

// TestRemovalHoldIsVisibleAndReleasable: a broken upstream made every
// key of a 10-key pool look invalid; the brake quarantined one and holds
// nine suspect. GetAll and ListPools say so; ReleaseRemovals quarantines
// the nine on an admin's word and lifts the hold.
func TestRemovalHoldIsVisibleAndReleasable(t *testing.T) {
	h := newHarness(t)
	const pool = "held-pool"
	var secrets []string
	for i := range 10 {
		secrets = append(secrets, "sk-held-"+string(rune('a'+i))+"-000001")
	}
	ids := h.add(t, pool, secrets...)
	h.quarantine(t, pool, ids...)

	page, err := h.client.GetAll(h.ctx(t), &pb.GetAllRequest{Pool: pool})
	if err != nil {
		t.Fatal(err)
	}
	hold := page.GetRemovalHold()
	if !hold.GetHeld() || hold.GetHeldCount() != 9 || hold.GetReason() != "invalid_api_key" || hold.GetRecentCount() != 1 ||
		hold.GetMaxRemovals() != "10%" || hold.GetRemovalWindow().AsDuration() != 10*time.Minute || hold.GetSince() == nil {
		t.Fatalf("GetAll removal_hold = %v", hold)
	}
	pools, err := h.client.ListPools(h.ctx(t), &pb.ListPoolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pools.GetPools() {
		if p.GetPool() == pool && (!p.GetRemovalHold().GetHeld() || p.GetCounts().GetSuspect() != 9 || p.GetCounts().GetQuarantined() != 1) {
			t.Fatalf("ListPools = %v", p)
		}
	}

	rel, err := h.client.ReleaseRemovals(h.ctx(t), &pb.ReleaseRemovalsRequest{Pool: pool})
	if err != nil || rel.GetQuarantinedCount() != 9 {
		t.Fatalf("ReleaseRemovals = %v, %v", rel, err)
	}
	page, _ = h.client.GetAll(h.ctx(t), &pb.GetAllRequest{Pool: pool})
	if page.GetRemovalHold().GetHeld() || page.GetCounts().GetQuarantined() != 10 || page.GetCounts().GetTotal() != 10 {
		t.Fatalf("after release: hold %v, counts %v", page.GetRemovalHold(), page.GetCounts())
	}
}

// TestClientFloodCannotParkAPoolWithoutValidator: a caller with a client
// token reports 401 for every key of a pool no validator checks, by key
// id (no lease needed), again and again. It gets at most every key but
// min_active (1) parked, for at most suspect_timeout: GetRandom never
// fails, and after the timeout every key is leasable again.
func TestClientFloodCannotParkAPoolWithoutValidator(t *testing.T) {
	h := newHarness(t)
	const pool = "flooded"
	ids := h.add(t, pool, "sk-flood-0001", "sk-flood-0002", "sk-flood-0003", "sk-flood-0004", "sk-flood-0005")
	policy := h.policies.Pool(pool)
	if policy.Validator.Checks() {
		t.Fatal("the test needs a pool no validator checks")
	}
	kept := 0
	for round := range 4 {
		for _, id := range ids {
			resp := h.report(t, &pb.ReportFailureRequest{Pool: pool, Key: &pb.ReportFailureRequest_KeyId{KeyId: id},
				HttpStatus: 401, ErrorCode: "invalid_api_key"})
			if resp.GetKeptActive() {
				kept++
			}
			if _, err := h.client.GetRandom(h.ctx(t), &pb.GetRandomRequest{Pool: pool}); err != nil {
				t.Fatalf("round %d: GetRandom failed under the flood: %v", round, err)
			}
		}
		h.clock.Advance(time.Minute) // reports keep coming; the parks do not stretch
	}
	page, err := h.client.GetAll(h.ctx(t), &pb.GetAllRequest{Pool: pool})
	if err != nil {
		t.Fatal(err)
	}
	if c := page.GetCounts(); c.GetActive() != int64(policy.MinActive) || c.GetSuspect() != 4 || kept == 0 {
		t.Fatalf("under the flood counts %v, %d reports kept a key active; want min_active (1) active", c, kept)
	}
	h.clock.Advance(time.Duration(policy.SuspectTimeout) - 4*time.Minute)
	page, _ = h.client.GetAll(h.ctx(t), &pb.GetAllRequest{Pool: pool})
	if c := page.GetCounts(); c.GetActive() != 5 {
		t.Fatalf("suspect_timeout after the flood began: counts %v, want every key active", c)
	}
}

// TestReportedDisableIsRecheckedAfterDisabledInterval: in a pool a
// validator checks, a key a report disables is due for its re-check
// disabled_interval later, not at its old due time.
func TestReportedDisableIsRecheckedAfterDisabledInterval(t *testing.T) {
	h := newHarness(t)
	const pool = "cd-suspect" // validator openai in policyYAML
	ids := h.add(t, pool, "sk-recheck-0001", "sk-recheck-0002")
	h.report(t, &pb.ReportFailureRequest{Pool: pool, Key: &pb.ReportFailureRequest_KeyId{KeyId: ids[0]},
		HttpStatus: 429, ErrorType: "insufficient_quota", ErrorCode: "insufficient_quota"})
	due, err := h.redis.Client().ZScore(t.Context(), "kb:{"+pool+"}:due", ids[0]).Result()
	if err != nil {
		t.Fatal(err)
	}
	want := h.clock.Now().Add(time.Duration(h.policies.Pool(pool).Validator.DisabledInterval))
	if int64(due) != want.UnixMilli() {
		t.Fatalf("re-check due at %v, want disabled_interval later, %v", time.UnixMilli(int64(due)).UTC(), want.UTC())
	}
}
