package redistest

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keybroker/keybroker/internal/redisproc"
)

// Cluster is a Redis Cluster of three masters, each with replicas, on free
// loopback ports, torn down at cleanup. Node timeouts are short so failover tests run in seconds.
type Cluster struct {
	t        testing.TB
	nodes    []*redisproc.Server
	replicas int // per master
}

// StartCluster starts 3 × (1 + replicas) nodes and joins them: each
// master takes a third of the slots, every node meets the first, and
// replicas follow their masters.
func StartCluster(t testing.TB, replicas int) *Cluster {
	t.Helper()
	return StartClusterWith(t, replicas)
}

// StartClusterWith is StartCluster with extra redis-server arguments for
// every node, such as "--cluster-require-full-coverage", "no" (the other
// masters keep serving their slots while one is down).
func StartClusterWith(t testing.TB, replicas int, extra ...string) *Cluster {
	t.Helper()
	bin, err := redisproc.Binary()
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{t: t, replicas: replicas}
	t.Cleanup(c.Stop)
	for range 3 * (1 + replicas) {
		dir := t.TempDir()
		n, err := redisproc.StartWith(bin, dir, "", append([]string{
			"--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(dir, "nodes.conf"),
			"--cluster-node-timeout", "1000", "--cluster-replica-validity-factor", "0",
			"--repl-diskless-sync-delay", "0",
		}, extra...))
		if err != nil {
			t.Fatal(err)
		}
		c.nodes = append(c.nodes, n)
	}
	if err := c.join(replicas); err != nil {
		t.Fatalf("join the cluster: %v", err)
	}
	c.waitHealthy()
	for _, n := range c.nodes[3:] {
		waitLinked(t, n.Addr)
	}
	return c
}

// join assigns slots to the first three nodes, introduces every node to
// the first, and makes the rest replicas, round robin.
func (c *Cluster) join(replicas int) error {
	ctx := context.Background()
	const slots = 16384
	clients := make([]*redis.Client, len(c.nodes))
	for i, n := range c.nodes {
		clients[i] = redis.NewClient(&redis.Options{Addr: n.Addr, MaxRetries: -1})
		defer clients[i].Close()
	}
	for i := range 3 {
		lo, hi := i*slots/3, (i+1)*slots/3-1
		if err := clients[i].Do(ctx, "CLUSTER", "ADDSLOTSRANGE", lo, hi).Err(); err != nil {
			return fmt.Errorf("ADDSLOTSRANGE on %s: %w", c.nodes[i].Addr, err)
		}
	}
	host, port, _ := net.SplitHostPort(c.nodes[0].Addr)
	for _, cl := range clients[1:] {
		if err := cl.ClusterMeet(ctx, host, port).Err(); err != nil {
			return fmt.Errorf("CLUSTER MEET: %w", err)
		}
	}
	for i := 3; i < len(clients); i++ {
		master, err := clients[i%3].ClusterMyID(ctx).Result()
		if err != nil {
			return err
		}
		if err := c.replicate(ctx, clients[i], master); err != nil {
			return err
		}
	}
	return nil
}

// replicate retries CLUSTER REPLICATE until the replica has heard of the
// master through gossip.
func (c *Cluster) replicate(ctx context.Context, replica *redis.Client, master string) error {
	var err error
	for range 200 {
		if err = replica.Do(ctx, "CLUSTER", "REPLICATE", master).Err(); err == nil {
			return nil
		}
		time.Sleep(25 * time.Millisecond)
	}
	return fmt.Errorf("CLUSTER REPLICATE %s: %w", master, err)
}

// Addrs are the nodes' host:port, masters first as created.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = n.Addr
	}
	return out
}

// Client returns a cluster client over every node, closed at cleanup. It
// refreshes its slot map every second, so it follows failovers quickly.
func (c *Cluster) Client() *redis.ClusterClient {
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs(), ClusterStateReloadInterval: time.Second})
	c.t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// Stop kills every node.
func (c *Cluster) Stop() {
	for _, n := range c.nodes {
		n.Stop()
	}
}

// MasterOf is the address of the master serving key's slot now.
func (c *Cluster) MasterOf(key string) string {
	c.t.Helper()
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	defer cc.Close()
	master, err := cc.MasterForKey(context.Background(), key)
	if err != nil {
		c.t.Fatalf("find the master of %q: %v", key, err)
	}
	return master.Options().Addr
}

// StopMasterOf kills the master serving key's slot and returns at once,
// without waiting for a replica to take over (with no replica, the slot
// stays down): a master lost for as long as the test wants.
func (c *Cluster) StopMasterOf(key string) string {
	c.t.Helper()
	addr := c.MasterOf(key)
	for _, n := range c.nodes {
		if n.Addr == addr {
			n.Stop()
		}
	}
	return addr
}

// KillMasterOf kills the master that serves key's slot and waits until a
// replica has taken over and the cluster answers for every slot again. It
// returns the killed node's address.
func (c *Cluster) KillMasterOf(key string) string {
	c.t.Helper()
	ctx := context.Background()
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	defer cc.Close()
	master, err := cc.MasterForKey(ctx, key)
	if err != nil {
		c.t.Fatalf("find the master of %q: %v", key, err)
	}
	addr := master.Options().Addr
	slot := int64(keySlot(ctx, cc, key))
	for _, n := range c.nodes {
		if n.Addr == addr {
			n.Stop()
		}
	}
	c.waitPromoted(slot, addr)
	c.waitHealthy()
	return addr
}

func keySlot(ctx context.Context, cc *redis.ClusterClient, key string) int64 {
	slot, _ := cc.ClusterKeySlot(ctx, key).Result()
	return slot
}

// waitPromoted waits until a live node says slot is served by a master
// other than dead: the replica has taken over.
func (c *Cluster) waitPromoted(slot int64, dead string) {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, n := range c.nodes {
			if n.Pid() == 0 {
				continue
			}
			if owner := slotOwner(n.Addr, slot); owner != "" && owner != dead {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatalf("no replica took over slot %d from %s within 30s", slot, dead)
}

// slotOwner asks node which master serves slot ("" if none is known). It
// uses CLUSTER SHARDS (Redis 7), which names each node's role rather than
// relying on CLUSTER SLOTS listing the master first.
func slotOwner(node string, slot int64) string {
	cl := redis.NewClient(&redis.Options{Addr: node, MaxRetries: -1})
	defer cl.Close()
	shards, err := cl.ClusterShards(context.Background()).Result()
	if err != nil {
		return ""
	}
	for _, sh := range shards {
		if !servesSlot(sh.Slots, slot) {
			continue
		}
		for _, n := range sh.Nodes {
			if n.Role == "master" && n.Health == "online" {
				return net.JoinHostPort(n.IP, strconv.FormatInt(n.Port, 10))
			}
		}
	}
	return ""
}

func servesSlot(ranges []redis.SlotRange, slot int64) bool {
	for _, r := range ranges {
		if r.Start <= slot && slot <= r.End {
			return true
		}
	}
	return false
}

// waitHealthy waits until every live node reports cluster_state:ok.
func (c *Cluster) waitHealthy() {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if c.healthy() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatal("Redis Cluster did not reach cluster_state:ok within 30s")
}

func (c *Cluster) healthy() bool {
	for _, n := range c.nodes {
		if n.Pid() == 0 {
			continue
		}
		cl := redis.NewClient(&redis.Options{Addr: n.Addr, MaxRetries: -1})
		info, err := cl.ClusterInfo(context.Background()).Result()
		cl.Close()
		if err != nil || !strings.Contains(info, "cluster_state:ok") {
			return false
		}
	}
	return true
}
