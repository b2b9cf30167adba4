package server_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/secret"
	"github.com/keybroker/keybroker/server"
)

func TestGetAll(t *testing.T) {
	h := newHarness(t)

	t.Run("masked unless revealed", func(t *testing.T) {
		const pool = "ga-mask"
		secrets := []string{"sk-ga-mask-abcdefghijklmnop", "sk-ga-mask-qrstuvwxyz012345"}
		ids := h.add(t, pool, secrets...)

		masked, err := h.client.GetAll(h.ctx(t), &pb.GetAllRequest{Pool: pool})
		if err != nil {
			t.Fatal(err)
		}
		revealed, err := h.client.GetAll(h.ctx(t), &pb.GetAllRequest{Pool: pool, Reveal: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(masked.GetKeys()) != 2 || len(revealed.GetKeys()) != 2 {
			t.Fatalf("got %d and %d keys, want 2", len(masked.GetKeys()), len(revealed.GetKeys()))
		}
		want := map[string]string{ids[0]: secrets[0], ids[1]: secrets[1]}
		for i, k := range masked.GetKeys() {
			sec := want[k.GetKeyId()]
			if k.GetSecret() != "" {
				t.Errorf("key %s: secret %q without reveal", k.GetKeyId(), k.GetSecret())
			}
			if m := k.GetMaskedSecret(); m == "" || m == sec || strings.Contains(m, sec) || m != secret.Mask(sec) {
				t.Errorf("key %s: masked_secret %q, want %q", k.GetKeyId(), m, secret.Mask(sec))
			}
			r := revealed.GetKeys()[i]
			if r.GetKeyId() != k.GetKeyId() || r.GetSecret() != sec || r.GetMaskedSecret() != k.GetMaskedSecret() {
				t.Errorf("revealed key %s: secret %q masked %q, want %q", r.GetKeyId(), r.GetSecret(), r.GetMaskedSecret(), sec)
			}
		}
	})

	// Someone with write access to Redis puts another secret under a key
	// id: the key is listed unreadable, never revealed, and the warning
	// names the key id only, neither the planted secret nor the real one.
	t.Run("a planted secret is unreadable and never logged", func(t *testing.T) {
		const pool = "ga-planted"
		genuine, planted := "sk-ga-planted-genuine-000001", "sk-ga-planted-ATTACKER-00001"
		ids := h.add(t, pool, genuine)
		h.redis.Client().HSet(h.ctx(t), "kb:{"+pool+"}:k:"+ids[0], "s", planted)
		resp, err := h.client.GetAll(h.ctx(t), &pb.GetAllRequest{Pool: pool, Reveal: true})
		if err != nil {
			t.Fatal(err)
		}
		if k := resp.GetKeys()[0]; k.GetSecret() != "" || k.GetMaskedSecret() != server.UnreadableSecret {
			t.Errorf("planted key listed as %q / %q, want unreadable", k.GetSecret(), k.GetMaskedSecret())
		}
		warned := false
		for _, line := range h.logs.Lines(t) {
			text := fmt.Sprint(line)
			if strings.Contains(text, planted) || strings.Contains(text, genuine) {
				t.Fatalf("a log line carries a secret: %s", text)
			}
			if line["key_id"] == ids[0] && strings.Contains(fmt.Sprint(line["msg"]), "cannot be opened") {
				warned = true
			}
		}
		if !warned {
			t.Error("no warning names the unreadable key")
		}
	})

	t.Run("state filter and counts", func(t *testing.T) {
		const pool = "ga-states"
		secrets := make([]string, 6)
		for i := range secrets {
			secrets[i] = fmt.Sprintf("sk-ga-states-%04d", i)
		}
		ids := h.add(t, pool, secrets...)
		h.report(t, &pb.ReportFailureRequest{Pool: pool, Key: &pb.ReportFailureRequest_KeyId{KeyId: ids[0]}, HttpStatus: 429})
		h.report(t, &pb.ReportFailureRequest{Pool: pool, Key: &pb.ReportFailureRequest_KeyId{KeyId: ids[1]}, HttpStatus: 401})
		h.report(t, &pb.ReportFailureRequest{Pool: pool, Key: &pb.ReportFailureRequest_KeyId{KeyId: ids[2]}, HttpStatus: 429, ErrorType: "insufficient_quota"})
		h.report(t, &pb.ReportFailureRequest{Pool: pool, Key: &pb.ReportFailureRequest_KeyId{KeyId: ids[3]}, HttpStatus: 403})

		wantCounts := &pb.PoolCounts{Total: 6, Active: 2, CoolingDown: 1, Suspect: 1, Disabled: 2}
		for _, tc := range []struct {
			state pb.KeyState
			ids   []string
		}{
			{pb.KeyState_KEY_STATE_UNSPECIFIED, ids},
			{pb.KeyState_KEY_STATE_ACTIVE, ids[4:6]},
			{pb.KeyState_KEY_STATE_COOLING_DOWN, ids[0:1]},
			{pb.KeyState_KEY_STATE_SUSPECT, ids[1:2]},
			{pb.KeyState_KEY_STATE_DISABLED, ids[2:4]},
		} {
			resp, err := h.client.GetAll(h.ctx(t), &pb.GetAllRequest{Pool: pool, State: tc.state})
			if err != nil {
				t.Fatal(err)
			}
			c := resp.GetCounts()
			if c.GetTotal() != wantCounts.GetTotal() || c.GetActive() != wantCounts.GetActive() || c.GetCoolingDown() != wantCounts.GetCoolingDown() ||
				c.GetSuspect() != wantCounts.GetSuspect() || c.GetDisabled() != wantCounts.GetDisabled() {
				t.Errorf("%s: counts %v, want %v", tc.state, c, wantCounts)
			}
			var got []string
			for _, k := range resp.GetKeys() {
				if tc.state != pb.KeyState_KEY_STATE_UNSPECIFIED && k.GetState() != tc.state {
					t.Errorf("%s: listed key %s in state %s", tc.state, k.GetKeyId(), k.GetState())
				}
				got = append(got, k.GetKeyId())
			}
			want := slices.Sorted(slices.Values(tc.ids))
			if !slices.Equal(got, want) {
				t.Errorf("%s: keys %v, want %v in key id order", tc.state, got, want)
			}
		}
	})

	t.Run("pages through 10000 keys", func(t *testing.T) {
		const pool = "ga-10k"
		const n = 10_000
		secrets := make([]string, n)
		for i := range secrets {
			secrets[i] = fmt.Sprintf("sk-ga-page-%06d-xxxxxxxx", i)
		}
		add, err := h.client.Add(h.ctx(t), &pb.AddRequest{Pool: pool, Secrets: secrets})
		if err != nil {
			t.Fatal(err)
		}
		if add.GetAddedCount() != n || len(add.GetKeyIds()) != n {
			t.Fatalf("added %d with %d key ids, want %d", add.GetAddedCount(), len(add.GetKeyIds()), n)
		}

		seen := make(map[string]int, n)
		var last string
		token, pages := "", 0
		for {
			resp, err := h.client.GetAll(h.ctx(t), &pb.GetAllRequest{Pool: pool, PageSize: 1000, PageToken: token})
			if err != nil {
				t.Fatalf("page %d: %v", pages, err)
			}
			pages++
			if pages > n/1000+1 {
				t.Fatalf("more than %d pages", n/1000+1)
			}
			if len(resp.GetKeys()) != 1000 {
				t.Fatalf("page %d holds %d keys, want 1000", pages, len(resp.GetKeys()))
			}
			if resp.GetCounts().GetTotal() != n {
				t.Fatalf("page %d: total %d, want %d", pages, resp.GetCounts().GetTotal(), n)
			}
			for _, k := range resp.GetKeys() {
				if k.GetKeyId() <= last {
					t.Fatalf("page %d: key %s after %s, want key id order", pages, k.GetKeyId(), last)
				}
				last = k.GetKeyId()
				seen[k.GetKeyId()]++
			}
			token = resp.GetNextPageToken()
			if token == "" {
				break
			}
		}
		if pages != n/1000 {
			t.Errorf("%d pages, want %d", pages, n/1000)
		}
		if len(seen) != n {
			t.Fatalf("listed %d distinct keys, want %d", len(seen), n)
		}
		for _, id := range add.GetKeyIds() {
			if seen[id] != 1 {
				t.Fatalf("key %s listed %d times, want once", id, seen[id])
			}
		}

		for _, tc := range []struct {
			size int32
			want int
		}{{0, 100}, {1, 1}, {5000, 1000}} {
			resp, err := h.client.GetAll(h.ctx(t), &pb.GetAllRequest{Pool: pool, PageSize: tc.size})
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.GetKeys()) != tc.want || resp.GetNextPageToken() == "" {
				t.Errorf("page_size %d: %d keys, next token %q; want %d and a token", tc.size, len(resp.GetKeys()), resp.GetNextPageToken(), tc.want)
			}
		}
	})

	t.Run("pages a state filter", func(t *testing.T) {
		const pool = "ga-filter-pages"
		ids := h.add(t, pool, "sk-ga-fp-000001", "sk-ga-fp-000002", "sk-ga-fp-000003", "sk-ga-fp-000004")
		h.report(t, &pb.ReportFailureRequest{Pool: pool, Key: &pb.ReportFailureRequest_KeyId{KeyId: ids[1]}, HttpStatus: 401})
		var got []string
		token := ""
		for range 10 {
			resp, err := h.client.GetAll(h.ctx(t), &pb.GetAllRequest{Pool: pool, PageSize: 1, PageToken: token, State: pb.KeyState_KEY_STATE_ACTIVE})
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range resp.GetKeys() {
				got = append(got, k.GetKeyId())
			}
			if token = resp.GetNextPageToken(); token == "" {
				break
			}
		}
		want := slices.Sorted(slices.Values([]string{ids[0], ids[2], ids[3]}))
		if !slices.Equal(got, want) {
			t.Fatalf("active keys page by page %v, want %v", got, want)
		}
	})
}
