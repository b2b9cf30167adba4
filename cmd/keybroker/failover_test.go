package main

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/redistest"
)

// storeWithin polls GetAll, which always reads Redis (GetRandom is served
// from memory), until it succeeds, returning how many calls failed (with
// UNAVAILABLE only) on the way. GetRandom must never fail meanwhile.
func storeWithin(t *testing.T, b *broker, pool string, limit time.Duration) int {
	t.Helper()
	failed := 0
	deadline := time.Now().Add(limit)
	for {
		if _, err := b.client.GetRandom(ctxT(t), &pb.GetRandomRequest{Pool: pool}); err != nil {
			t.Errorf("GetRandom during failover = %v; the in-memory view should keep leasing", err)
		}
		_, err := b.client.GetAll(ctxT(t), &pb.GetAllRequest{Pool: pool})
		if err == nil {
			return failed
		}
		if status.Code(err) != codes.Unavailable {
			t.Fatalf("during failover GetAll = %v; only UNAVAILABLE is acceptable", err)
		}
		failed++
		if time.Now().After(deadline) {
			t.Fatalf("no lease within %s of the failover (last: %v)", limit, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The broker on a Redis Cluster keeps its keys when the master of their
// slot dies and a replica takes over.
func TestServeSurvivesClusterFailover(t *testing.T) {
	c := redistest.StartCluster(t, 1)
	b := startBroker(t, "--redis", strings.Join(c.Addrs(), ","), "--worker=false")
	added, err := b.client.Add(ctxT(t), &pb.AddRequest{Pool: "p", Secrets: []string{"sk-cluster-failover-000001", "sk-cluster-failover-000002"}})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // replication is asynchronous: let the replica catch up
	c.KillMasterOf("kb:{p}:all")
	storeWithin(t, b, "p", 30*time.Second)
	all, err := b.client.GetAll(ctxT(t), &pb.GetAllRequest{Pool: "p"})
	if err != nil || all.Counts.Total != 2 || all.Keys[0].KeyId == "" {
		t.Fatalf("after failover GetAll = %v, %v; want the 2 keys %v", all, err, added.KeyIds)
	}
}

// The broker on Sentinel follows the promoted replica.
func TestServeSurvivesSentinelFailover(t *testing.T) {
	s := redistest.StartSentinel(t)
	b := startBroker(t, "--redis", strings.Join(s.Addrs(), ","), "--redis-master-name", redistest.SentinelMaster, "--worker=false")
	if _, err := b.client.Add(ctxT(t), &pb.AddRequest{Pool: "p", Secrets: []string{"sk-sentinel-failover-00001"}}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	s.Failover()
	storeWithin(t, b, "p", 30*time.Second)
	if all, err := b.client.GetAll(ctxT(t), &pb.GetAllRequest{Pool: "p"}); err != nil || all.Counts.Total != 1 {
		t.Fatalf("after failover GetAll = %v, %v", all, err)
	}
	b.waitHealth(t, 1)
}
