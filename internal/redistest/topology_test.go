package redistest

import (
	"context"
	"testing"
	"time"

	"github.com/keybroker/keybroker/internal/testkit"
)

// The launchers are themselves tested: data written through each topology
// and acknowledged by the replicas (WaitReplicated) survives losing the
// master, and the promoted replica takes writes.
func TestClusterServesEverySlotAndFailsOver(t *testing.T) {
	c := StartCluster(t, 1)
	cc := c.Client()
	ctx := context.Background()
	for _, k := range []string{"kb:{a}:x", "kb:{b}:x", "kb:{c}:x", "kb:{d}:x"} {
		if err := cc.Set(ctx, k, "v", 0).Err(); err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
	}
	c.WaitReplicated("kb:{a}:x")
	c.KillMasterOf("kb:{a}:x")
	testkit.Eventually(t, 10*time.Second, 100*time.Millisecond, "the failed-over slot takes writes", func() bool {
		return cc.Set(ctx, "kb:{a}:y", "v", 0).Err() == nil
	})
	if got, err := cc.Get(ctx, "kb:{a}:x").Result(); err != nil || got != "v" {
		t.Fatalf("after failover GET kb:{a}:x = %q, %v; the replicated write was lost", got, err)
	}
}

func TestSentinelFailsOver(t *testing.T) {
	s := StartSentinel(t)
	c := s.Client()
	ctx := context.Background()
	if err := c.Set(ctx, "k", "before", 0).Err(); err != nil {
		t.Fatal(err)
	}
	s.WaitReplicated()
	s.Failover()
	testkit.Eventually(t, 10*time.Second, 100*time.Millisecond, "the promoted replica takes writes", func() bool {
		return c.Set(ctx, "k2", "after", 0).Err() == nil
	})
	if got, err := c.Get(ctx, "k").Result(); err != nil || got != "before" {
		t.Fatalf("after failover GET k = %q, %v; the replicated write was lost", got, err)
	}
}

func TestHashTag(t *testing.T) {
	for key, want := range map[string]string{"kb:{p}:all": "p", "plain": "plain", "a{}b": "a{}b", "{x}{y}": "x", "a{b": "a{b"} {
		if got := hashTag(key); got != want {
			t.Errorf("hashTag(%q) = %q, want %q", key, got, want)
		}
	}
}
