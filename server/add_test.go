package server_test

import (
	"strings"
	"testing"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/secret"
)

func TestAdd(t *testing.T) {
	h := newHarness(t)

	t.Run("idempotent", func(t *testing.T) {
		const pool = "add-idem"
		first, err := h.client.Add(h.ctx(t), &pb.AddRequest{Pool: pool, Secrets: []string{"sk-add-alpha-0001", "sk-add-bravo-0002", "sk-add-charlie-03"}})
		if err != nil {
			t.Fatal(err)
		}
		if first.GetAddedCount() != 3 || first.GetPresentCount() != 0 {
			t.Fatalf("first Add: added %d present %d, want 3 and 0", first.GetAddedCount(), first.GetPresentCount())
		}
		ids := first.GetKeyIds()
		seen := map[string]bool{}
		for _, id := range ids {
			if !secret.ValidID(id) {
				t.Errorf("key id %q is not a key id", id)
			}
			seen[id] = true
		}
		if len(seen) != 3 {
			t.Fatalf("key ids %v are not distinct", ids)
		}

		// The same secrets again, reordered and padded with whitespace
		// (which is trimmed), with one new secret in the middle.
		second, err := h.client.Add(h.ctx(t), &pb.AddRequest{Pool: pool, Secrets: []string{"  sk-add-charlie-03\n", "sk-add-delta-0004", "sk-add-alpha-0001", "\tsk-add-bravo-0002"}})
		if err != nil {
			t.Fatal(err)
		}
		if second.GetAddedCount() != 1 || second.GetPresentCount() != 3 {
			t.Fatalf("second Add: added %d present %d, want 1 and 3", second.GetAddedCount(), second.GetPresentCount())
		}
		got := second.GetKeyIds()
		if len(got) != 4 || got[0] != ids[2] || got[2] != ids[0] || got[3] != ids[1] || seen[got[1]] {
			t.Fatalf("second Add key ids %v, want [%s new %s %s] in request order", got, ids[2], ids[0], ids[1])
		}

		keys := h.keys(t, pool)
		if len(keys) != 4 {
			t.Fatalf("pool holds %d keys, want 4", len(keys))
		}
		for i, sec := range []string{"sk-add-alpha-0001", "sk-add-bravo-0002", "sk-add-charlie-03"} {
			k := keys[ids[i]]
			if k.GetSecret() != sec || k.GetState() != pb.KeyState_KEY_STATE_ACTIVE || k.GetReason() != "added" {
				t.Errorf("key %s: secret %q state %s reason %q, want %q active added", ids[i], k.GetSecret(), k.GetState(), k.GetReason(), sec)
			}
			if !k.GetAddTime().AsTime().Equal(clockStart) {
				t.Errorf("key %s: add_time %s, want %s", ids[i], k.GetAddTime().AsTime(), clockStart)
			}
		}
	})

	t.Run("repeats within one request", func(t *testing.T) {
		resp, err := h.client.Add(h.ctx(t), &pb.AddRequest{Pool: "add-repeat", Secrets: []string{"sk-add-repeat-0001", "sk-add-repeat-0002", " sk-add-repeat-0001 "}})
		if err != nil {
			t.Fatal(err)
		}
		ids := resp.GetKeyIds()
		if resp.GetAddedCount() != 2 || resp.GetPresentCount() != 1 || len(ids) != 3 || ids[0] != ids[2] || ids[0] == ids[1] {
			t.Fatalf("added %d present %d ids %v, want 2, 1 and the first id repeated last", resp.GetAddedCount(), resp.GetPresentCount(), ids)
		}
	})

	t.Run("leaves a present key's state alone", func(t *testing.T) {
		const pool = "add-keeps-state"
		id := h.add(t, pool, "sk-add-cooling-0001")[0]
		h.report(t, &pb.ReportFailureRequest{Pool: pool, Key: &pb.ReportFailureRequest_KeyId{KeyId: id}, HttpStatus: 429, ErrorCode: "rate_limit_exceeded"})
		resp, err := h.client.Add(h.ctx(t), &pb.AddRequest{Pool: pool, Secrets: []string{"sk-add-cooling-0001"}})
		if err != nil {
			t.Fatal(err)
		}
		if resp.GetAddedCount() != 0 || resp.GetPresentCount() != 1 {
			t.Fatalf("added %d present %d, want 0 and 1", resp.GetAddedCount(), resp.GetPresentCount())
		}
		if k := h.key(t, pool, id); k.GetState() != pb.KeyState_KEY_STATE_COOLING_DOWN || k.GetFailureCount() != 1 {
			t.Fatalf("re-added key is %s with %d failures, want cooling_down with 1", k.GetState(), k.GetFailureCount())
		}
	})

	t.Run("limits", func(t *testing.T) {
		// The longest pool name and the longest secret are accepted.
		pool := strings.Repeat("p", 64)
		long := "sk-" + strings.Repeat("x", secret.MaxLen-3)
		id := h.add(t, pool, long)[0]
		if k := h.key(t, pool, id); k.GetSecret() != long {
			t.Fatalf("stored secret is %d bytes, want %d", len(k.GetSecret()), len(long))
		}
	})

	t.Run("a bad secret adds nothing", func(t *testing.T) {
		const pool = "add-all-or-nothing"
		_, err := h.client.Add(h.ctx(t), &pb.AddRequest{Pool: pool, Secrets: []string{"sk-add-fine-000001", "sk-add-not fine-02"}})
		if d := detailsOf(t, err); d.bad == nil || d.bad.GetFieldViolations()[0].GetField() != "secrets[1]" {
			t.Fatalf("got %v, want a violation of secrets[1]", err)
		}
		resp, err := h.client.GetAll(h.ctx(t), &pb.GetAllRequest{Pool: pool})
		if err != nil {
			t.Fatal(err)
		}
		if n := resp.GetCounts().GetTotal(); n != 0 {
			t.Fatalf("pool holds %d keys after a rejected Add, want 0", n)
		}
	})
}
