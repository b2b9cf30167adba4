package redistest

import (
	"context"
	"os"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
)

// EnvTopology selects the Redis deployment Deploy starts: "single" (the
// default), "cluster" (three masters) or "sentinel" (a master, a replica
// and three sentinels). CI runs the store and server suites once per
// topology.
const EnvTopology = "KEYBROKER_TEST_REDIS"

// Deployment is a Redis deployment a test started, as keybroker reaches
// it: the addresses and master name its --redis flags would take.
type Deployment struct {
	Topology   string
	Addrs      []string
	MasterName string

	client redis.UniversalClient
	single *Server
}

// Deploy starts the topology named by $KEYBROKER_TEST_REDIS for t. A
// single node is started per test. A Cluster or Sentinel set takes
// seconds to form (a new cluster master refuses writes for 2s), so in a
// package whose TestMain calls Main one is shared by the package's tests
// and emptied (FLUSHALL) for each; elsewhere each test starts its own.
func Deploy(t testing.TB) *Deployment {
	t.Helper()
	switch topo := os.Getenv(EnvTopology); topo {
	case "", "single":
		s := Start(t)
		return &Deployment{Topology: "single", Addrs: []string{s.Addr}, client: s.Client(), single: s}
	case "cluster", "sentinel":
		d := shared.get(t, topo)
		d.flush(t)
		return d
	default:
		t.Fatalf("%s=%q: want single, cluster or sentinel", EnvTopology, topo)
		return nil
	}
}

// Main runs a package's tests with Cluster and Sentinel deployments shared
// between them, and stops those when the tests end. Use it as
//
//	func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }
func Main(m *testing.M) int {
	shared.mu.Lock()
	shared.enabled = true
	shared.mu.Unlock()
	defer shared.stop()
	return m.Run()
}

// shared holds the deployments Main shares; tests in a package run one
// after another (none of keybroker's is parallel), so one is enough.
var shared sharedDeployments

type sharedDeployments struct {
	mu      sync.Mutex
	enabled bool
	byTopo  map[string]*Deployment
	stops   []func()
}

func (s *sharedDeployments) get(t testing.TB, topo string) *Deployment {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.enabled {
		return startDeployment(t, t, topo)
	}
	if d, ok := s.byTopo[topo]; ok {
		return d
	}
	owner := &lifetime{}
	d := startDeployment(t, owner, topo)
	if s.byTopo == nil {
		s.byTopo = map[string]*Deployment{}
	}
	s.byTopo[topo] = d
	s.stops = append(s.stops, owner.run)
	return d
}

func (s *sharedDeployments) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.stops {
		f()
	}
	s.byTopo, s.stops = nil, nil
}

// startDeployment starts topo, failing through t and registering its
// teardown with life (t itself, or the package run for shared ones).
func startDeployment(t testing.TB, life cleaner, topo string) *Deployment {
	tb := &scopedTB{TB: t, life: life}
	if topo == "cluster" {
		c := StartCluster(tb, 0)
		cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs(), ClusterStateReloadInterval: 1e9})
		life.Cleanup(func() { _ = cc.Close() })
		return &Deployment{Topology: topo, Addrs: c.Addrs(), client: cc}
	}
	s := StartSentinel(tb)
	fc := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: SentinelMaster, SentinelAddrs: s.Addrs()})
	life.Cleanup(func() { _ = fc.Close() })
	return &Deployment{Topology: topo, Addrs: s.Addrs(), MasterName: SentinelMaster, client: fc}
}

// flush empties every master, so a shared deployment starts each test
// as a fresh one would.
func (d *Deployment) flush(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	var err error
	if cc, ok := d.client.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return c.FlushAll(ctx).Err() })
	} else {
		err = d.client.FlushAll(ctx).Err()
	}
	if err != nil {
		t.Fatalf("empty the shared %s deployment: %v", d.Topology, err)
	}
}

// cleaner is what owns a deployment's teardown.
type cleaner interface{ Cleanup(func()) }

// lifetime collects teardowns that run when Main's tests end.
type lifetime struct{ fns []func() }

func (l *lifetime) Cleanup(f func()) { l.fns = append(l.fns, f) }

func (l *lifetime) run() {
	for i := len(l.fns) - 1; i >= 0; i-- {
		l.fns[i]()
	}
}

// scopedTB is a testing.TB whose Cleanup and TempDir belong to another
// lifetime, so a deployment started during one test can outlive it.
type scopedTB struct {
	testing.TB
	life cleaner
}

func (s *scopedTB) Cleanup(f func()) { s.life.Cleanup(f) }

func (s *scopedTB) TempDir() string {
	if _, ok := s.life.(testing.TB); ok {
		return s.TB.TempDir()
	}
	dir, err := os.MkdirTemp("", "keybroker-redis")
	if err != nil {
		s.Fatal(err)
	}
	s.life.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// Client returns a client for the deployment, closed at cleanup.
func (d *Deployment) Client() redis.UniversalClient { return d.client }

// Single returns the single node of a single-node deployment, for tests
// that stop and restart Redis; on other topologies it skips the test,
// which has its own failover test there.
func (d *Deployment) Single(t testing.TB) *Server {
	t.Helper()
	if d.single == nil {
		t.Skipf("stops and restarts one redis-server; the %s topology has its own failover tests", d.Topology)
	}
	return d.single
}
