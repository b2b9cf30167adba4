package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/redistest"
	"github.com/keybroker/keybroker/internal/testkit"
	"github.com/keybroker/keybroker/server"
)

// storeWithin polls GetAll, which always reads Redis (GetRandom is served
// from memory), until it succeeds, returning how many calls failed (with
// UNAVAILABLE only) on the way. GetRandom must never fail meanwhile.
func storeWithin(t *testing.T, b *brokerProc, pool string, limit time.Duration) int {
	t.Helper()
	failed := 0
	testkit.EventuallyWhy(t, limit, 50*time.Millisecond, "GetAll reads the store again after the failover", func() (bool, string) {
		if _, err := b.client.GetRandom(ctxT(t), &pb.GetRandomRequest{Pool: pool}); err != nil {
			t.Errorf("GetRandom during failover = %v; the in-memory view should keep leasing", err)
		}
		_, err := b.client.GetAll(ctxT(t), &pb.GetAllRequest{Pool: pool})
		if err == nil {
			return true, ""
		}
		if status.Code(err) != codes.Unavailable {
			t.Fatalf("during failover GetAll = %v; only UNAVAILABLE is acceptable", err)
		}
		failed++
		return false, err.Error()
	})
	return failed
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
	c.WaitReplicated("kb:{p}:all") // replication is asynchronous: the replica must hold the keys
	c.KillMasterOf("kb:{p}:all")
	storeWithin(t, b, "p", 30*time.Second)
	all, err := b.client.GetAll(ctxT(t), &pb.GetAllRequest{Pool: "p"})
	if err != nil || all.GetCounts().GetTotal() != 2 || all.GetKeys()[0].GetKeyId() == "" {
		t.Fatalf("after failover GetAll = %v, %v; want the 2 keys %v", all, err, added.GetKeyIds())
	}
}

// The broker on Sentinel follows the promoted replica.
func TestServeSurvivesSentinelFailover(t *testing.T) {
	s := redistest.StartSentinel(t)
	b := startBroker(t, "--redis", strings.Join(s.Addrs(), ","), "--redis-master-name", redistest.SentinelMaster, "--worker=false")
	if _, err := b.client.Add(ctxT(t), &pb.AddRequest{Pool: "p", Secrets: []string{"sk-sentinel-failover-00001"}}); err != nil {
		t.Fatal(err)
	}
	s.WaitReplicated()
	s.Failover()
	storeWithin(t, b, "p", 30*time.Second)
	if all, err := b.client.GetAll(ctxT(t), &pb.GetAllRequest{Pool: "p"}); err != nil || all.GetCounts().GetTotal() != 1 {
		t.Fatalf("after failover GetAll = %v, %v", all, err)
	}
	b.waitHealth(t, 1)
}

// With Redis out of reach (the network cut, Redis itself fine), the broker
// keeps leasing from memory and says it is degraded, stops leasing once
// the view is older than --max-staleness, and recovers when Redis returns.
//
// The view must hold the pool before the cut (a GetRandom that succeeds
// proves nothing: an unloaded pool is served by Redis), and --max-staleness
// leaves the outage's detection room on a loaded machine; the waits are
// bounded well past it, and only the order of events is asserted.
func TestLeasesOutliveAShortOutage(t *testing.T) {
	const maxStale = 10 * time.Second
	rs := redistest.Start(t)
	px := redistest.StartProxy(t, rs.Addr)
	b := startBroker(t, "--redis", px.Addr, "--max-staleness", maxStale.String(), "--redis-timeout", "300ms", "--worker=false")
	if _, err := b.client.Add(ctxT(t), &pb.AddRequest{Pool: "p", Secrets: []string{"sk-outage-lease-0000001"}}); err != nil {
		t.Fatal(err)
	}
	health := func(service string) healthpb.HealthCheckResponse_ServingStatus {
		resp, err := b.health.Check(ctxT(t), &healthpb.HealthCheckRequest{Service: service})
		if err != nil {
			return healthpb.HealthCheckResponse_UNKNOWN
		}
		return resp.GetStatus()
	}
	until := func(what string, cond func() bool) {
		t.Helper()
		testkit.Eventually(t, 3*maxStale, 25*time.Millisecond, what, cond)
	}
	lease := func() error {
		_, err := b.client.GetRandom(ctxT(t), &pb.GetRandomRequest{Pool: "p"})
		return err
	}
	until("the view loads pool p with its key", func() bool { return viewLoaded(b, "p") })

	px.Cut()
	until("keybroker.store to report the outage", func() bool { return health(server.StoreService) == healthpb.HealthCheckResponse_NOT_SERVING })
	if err := lease(); err != nil {
		t.Fatalf("GetRandom right after the outage began = %v; the view should serve\n%s", err, b.out)
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

// viewLoaded reports whether the broker logged that its in-memory view
// loaded pool with at least one key: the one outside sign that GetRandom
// on pool is served from memory rather than by Redis.
func viewLoaded(b *brokerProc, pool string) bool {
	for _, line := range strings.Split(b.out.String(), "\n") {
		var rec struct {
			Msg  string `json:"msg"`
			Pool string `json:"pool"`
			Keys int    `json:"keys"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "view: pool loaded" && rec.Pool == pool && rec.Keys > 0 {
			return true
		}
	}
	return false
}

// On a Redis Cluster the master holding one pool's slot dies and no
// replica takes over, while the node answering PING is fine. The broker
// must see it per pool, from that pool's own reads: that pool's health
// turns NOT_SERVING and its leases stop past --max-staleness, while a pool
// on a live master keeps serving. (Before per-pool freshness, the health
// ping reached a live node: health stayed SERVING and the dead pool kept
// leasing from a view nobody could refresh.)
func TestClusterMasterLossIsSeenPerPool(t *testing.T) {
	c := redistest.StartClusterWith(t, 0, "--cluster-require-full-coverage", "no")
	const dead = "p"
	alive := ""
	for i := 0; alive == ""; i++ {
		if name := fmt.Sprintf("q%d", i); c.MasterOf("kb:{"+name+"}:all") != c.MasterOf("kb:{"+dead+"}:all") {
			alive = name
		}
	}
	b := startBroker(t, "--redis", strings.Join(c.Addrs(), ","), "--max-staleness", "2s", "--redis-timeout", "300ms", "--worker=false")
	for i, pool := range []string{dead, alive} {
		if _, err := b.client.Add(ctxT(t), &pb.AddRequest{Pool: pool, Secrets: []string{fmt.Sprintf("sk-cluster-loss-%010d", i)}}); err != nil {
			t.Fatal(err)
		}
	}
	lease := func(pool string) error {
		_, err := b.client.GetRandom(ctxT(t), &pb.GetRandomRequest{Pool: pool})
		return err
	}
	health := func(service string) healthpb.HealthCheckResponse_ServingStatus {
		resp, err := b.health.Check(ctxT(t), &healthpb.HealthCheckRequest{Service: service})
		if err != nil {
			return healthpb.HealthCheckResponse_UNKNOWN
		}
		return resp.GetStatus()
	}
	until := func(what string, cond func() bool) {
		t.Helper()
		for i := 0; !cond(); i++ {
			if i == 600 {
				t.Fatalf("timed out waiting for %s:\n%s", what, b.out)
			}
			time.Sleep(25 * time.Millisecond)
		}
	}
	loaded := func(pool string) bool {
		return strings.Contains(b.out.String(), `"msg":"view: pool loaded","pool":"`+pool+`"`)
	}
	until("both pools to load, lease and report SERVING", func() bool {
		return loaded(dead) && loaded(alive) && lease(dead) == nil && lease(alive) == nil &&
			health(server.PoolService(dead)) == healthpb.HealthCheckResponse_SERVING &&
			health(server.PoolService(alive)) == healthpb.HealthCheckResponse_SERVING
	})

	killed := time.Now()
	c.StopMasterOf("kb:{" + dead + "}:all")
	until("keybroker.store to report the lost master", func() bool { return health(server.StoreService) == healthpb.HealthCheckResponse_NOT_SERVING })
	t.Logf("keybroker.store NOT_SERVING %s after the master died", time.Since(killed).Round(time.Millisecond))
	until("leases of the dead pool to stop past --max-staleness", func() bool { return status.Code(lease(dead)) == codes.Unavailable })
	t.Logf("GetRandom(%s) refused %s after the master died (--max-staleness 2s)", dead, time.Since(killed).Round(time.Millisecond))
	until("the dead pool's health to turn NOT_SERVING", func() bool {
		return health(server.PoolService(dead)) == healthpb.HealthCheckResponse_NOT_SERVING
	})
	t.Logf("%s NOT_SERVING %s after the master died", server.PoolService(dead), time.Since(killed).Round(time.Millisecond))
	for range 20 { // well past --max-staleness: the live pool's own reads keep it fresh
		if err := lease(alive); err != nil {
			t.Fatalf("GetRandom(%s) on a live master = %v; only the dead master's pool may refuse", alive, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := health(server.PoolService(alive)); got != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health of the pool on a live master = %s, want SERVING", got)
	}
	if got := health(""); got != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("broker health = %s with one pool still served, want SERVING (the lost pool says NOT_SERVING on its own)", got)
	}
}
