package server_test

import (
	"slices"
	"testing"

	"google.golang.org/grpc/codes"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
)

func TestRemove(t *testing.T) {
	h := newHarness(t)

	t.Run("idempotent", func(t *testing.T) {
		const pool = "rm-idem"
		ids := h.add(t, pool, "sk-rm-alpha-00001", "sk-rm-bravo-00002", "sk-rm-charlie-003")

		// By key id and by (padded) secret in one call.
		req := &pb.RemoveRequest{Pool: pool, KeyIds: []string{ids[0]}, Secrets: []string{" sk-rm-bravo-00002 "}}
		first, err := h.client.Remove(h.ctx(t), req)
		if err != nil {
			t.Fatal(err)
		}
		if first.GetRemovedCount() != 2 || !slices.Equal(first.GetRemovedKeyIds(), ids[:2]) || len(first.GetNotFoundKeyIds()) != 0 {
			t.Fatalf("first Remove: removed %d %v, not found %v; want 2 %v, none", first.GetRemovedCount(), first.GetRemovedKeyIds(), first.GetNotFoundKeyIds(), ids[:2])
		}

		second, err := h.client.Remove(h.ctx(t), req)
		if err != nil {
			t.Fatal(err)
		}
		if second.GetRemovedCount() != 0 || len(second.GetRemovedKeyIds()) != 0 || !slices.Equal(second.GetNotFoundKeyIds(), ids[:2]) {
			t.Fatalf("second Remove: removed %d %v, not found %v; want 0, none, %v", second.GetRemovedCount(), second.GetRemovedKeyIds(), second.GetNotFoundKeyIds(), ids[:2])
		}

		keys := h.keys(t, pool)
		if len(keys) != 1 || keys[ids[2]] == nil {
			t.Fatalf("pool holds %v, want only %s", keys, ids[2])
		}
	})

	t.Run("a key named twice is reported once", func(t *testing.T) {
		const pool = "rm-dupes"
		ids := h.add(t, pool, "sk-rm-dupe-000001", "sk-rm-dupe-000002")
		resp, err := h.client.Remove(h.ctx(t), &pb.RemoveRequest{
			Pool:    pool,
			KeyIds:  []string{ids[0], ids[0], "0123456789abcdef", "0123456789abcdef"},
			Secrets: []string{"sk-rm-dupe-000001", "sk-rm-dupe-000002", "sk-rm-dupe-000002"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if resp.GetRemovedCount() != 2 || !slices.Equal(resp.GetRemovedKeyIds(), ids) {
			t.Errorf("removed %d %v, want 2 %v", resp.GetRemovedCount(), resp.GetRemovedKeyIds(), ids)
		}
		if !slices.Equal(resp.GetNotFoundKeyIds(), []string{"0123456789abcdef"}) {
			t.Errorf("not found %v, want the unknown id once", resp.GetNotFoundKeyIds())
		}
	})

	t.Run("a removed key is gone for every RPC", func(t *testing.T) {
		const pool = "rm-gone"
		h.add(t, pool, "sk-rm-gone-000001")
		got, err := h.client.GetRandom(h.ctx(t), &pb.GetRandomRequest{Pool: pool})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.client.Remove(h.ctx(t), &pb.RemoveRequest{Pool: pool, KeyIds: []string{got.GetKeyId()}}); err != nil {
			t.Fatal(err)
		}
		_, err = h.client.GetRandom(h.ctx(t), &pb.GetRandomRequest{Pool: pool})
		wantReason(t, err, codes.FailedPrecondition, pb.ErrorReason_ERROR_REASON_POOL_EMPTY)

		// The lease outlives the key; the report finds no key.
		_, err = h.client.ReportFailure(h.ctx(t), &pb.ReportFailureRequest{Pool: pool, Key: &pb.ReportFailureRequest_LeaseId{LeaseId: got.GetLease().GetLeaseId()}, HttpStatus: 429})
		wantReason(t, err, codes.NotFound, pb.ErrorReason_ERROR_REASON_KEY_UNKNOWN)
	})
}
