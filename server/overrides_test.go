package server

import (
	"context"
	"testing"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/config"
	"github.com/keybroker/keybroker/internal/lease"
	"github.com/keybroker/keybroker/internal/redistest"
	"github.com/keybroker/keybroker/internal/secret"
	"github.com/keybroker/keybroker/internal/store"
)

// A pool's classify rules decide before the built-in table.
func TestReportFailureAppliesThePoolsRules(t *testing.T) {
	policies, err := config.Parse("pools.yaml", []byte(`
pools:
  relay:
    provider: openai-compatible
    base_url: https://relay.example.com
    classify:
      - {status: 500, message_contains: "quota", kind: quota_exhausted, reason: relay_quota}
`))
	if err != nil {
		t.Fatal(err)
	}
	st := store.New(redistest.Deploy(t).Client(), secret.NewIDs([]byte("k")))
	svc := New(st, lease.NewSigner([]byte("l")), WithPolicies(policies))
	ctx := context.Background()
	for pool, want := range map[string]pb.KeyState{"relay": pb.KeyState_KEY_STATE_DISABLED, "other": pb.KeyState_KEY_STATE_ACTIVE} {
		added, err := st.Add(ctx, pool, []string{"sk-override-test-000001", "sk-override-test-spare1"}) // reports never park the last key
		if err != nil {
			t.Fatal(err)
		}
		resp, err := svc.ReportFailure(ctx, &pb.ReportFailureRequest{Pool: pool, Key: &pb.ReportFailureRequest_KeyId{KeyId: added.KeyIDs[0]},
			HttpStatus: 500, ErrorMessage: "Quota used up at the relay"})
		if err != nil {
			t.Fatal(err)
		}
		if resp.GetState() != want {
			t.Errorf("pool %s: a 500 saying quota left the key %s, want %s", pool, resp.GetState(), want)
		}
	}
}
