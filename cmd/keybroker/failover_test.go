package main

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/redistest"
)

// storeWithin polls GetAll, which always reads Redis (GetRandom is served
// from memory), until it succeeds, returning how many calls failed (with
// UNAVAILABLE only) on the way. GetRandom must never fail meanwhile.
func storeWithin(t *testing.T, b *brokerProc, pool string, limit time.Duration) int {
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

// With Redis out of reach (the network cut, Redis itself fine), the broker
// keeps leasing from memory and says it is degraded, stops leasing once
// the view is older than --max-staleness, and recovers when Redis returns.
func TestLeasesOutliveAShortOutage(t *testing.T) {
	rs := redistest.Start(t)
	px := redistest.StartProxy(t, rs.Addr)
	b := startBroker(t, "--redis", px.Addr, "--max-staleness", "3s", "--redis-timeout", "300ms", "--worker=false")
	if _, err := b.client.Add(ctxT(t), &pb.AddRequest{Pool: "p", Secrets: []string{"sk-outage-lease-0000001"}}); err != nil {
		t.Fatal(err)
	}
	health := func(service string) healthpb.HealthCheckResponse_ServingStatus {
		resp, err := b.health.Check(ctxT(t), &healthpb.HealthCheckRequest{Service: service})
		if err != nil {
			return healthpb.HealthCheckResponse_UNKNOWN
		}
		return resp.Status
	}
	until := func(what string, cond func() bool) {
		t.Helper()
		for i := 0; !cond(); i++ {
			if i == 400 {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(25 * time.Millisecond)
		}
	}
	lease := func() error {
		_, err := b.client.GetRandom(ctxT(t), &pb.GetRandomRequest{Pool: "p"})
		return err
	}
	until("the view to load", func() bool { return lease() == nil })

	px.Cut()
	until("keybroker.store to report the outage", func() bool { return health("keybroker.store") == healthpb.HealthCheckResponse_NOT_SERVING })
	if err := lease(); err != nil {
		t.Fatalf("GetRandom right after the outage began = %v; the view should serve", err)
	}
	if got := health(""); got != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("degraded broker health = %s, want SERVING", got)
	}
	if _, err := b.client.GetAll(ctxT(t), &pb.GetAllRequest{Pool: "p"}); status.Code(err) != codes.Unavailable {
		t.Fatalf("GetAll during the outage = %v, want UNAVAILABLE", err)
	}
	until("leases to stop past --max-staleness", func() bool { return status.Code(lease()) == codes.Unavailable })
	until("health to turn NOT_SERVING", func() bool { return health("") == healthpb.HealthCheckResponse_NOT_SERVING })

	px.Restore()
	until("leases to resume", func() bool { return lease() == nil })
	until("health to recover", func() bool { return health("") == healthpb.HealthCheckResponse_SERVING })
}
