package redistest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// replicationTimeout bounds a WAIT; it only keeps a broken topology from
// hanging a test.
const replicationTimeout = 30 * time.Second

// WaitReplicated blocks until every replica of the master serving key's
// slot has acknowledged every write that master has taken (Redis WAIT),
// so that killing the master next loses nothing the test wrote before.
func (c *Cluster) WaitReplicated(key string) {
	c.t.Helper()
	ctx := context.Background()
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	defer cc.Close()
	master, err := cc.MasterForKey(ctx, key)
	if err != nil {
		c.t.Fatalf("find the master of %q: %v", key, err)
	}
	marker := "redistest:replicated:{" + hashTag(key) + "}"
	if keySlot(ctx, cc, marker) != keySlot(ctx, cc, key) {
		c.t.Fatalf("marker %q does not share the slot of %q", marker, key)
	}
	waitReplicas(c.t, master.Options().Addr, marker, c.replicas)
}

// WaitReplicated blocks until the replica has acknowledged every write the
// master the sentinels name has taken (Redis WAIT), so that a Failover
// next loses nothing the test wrote before.
func (s *Sentinel) WaitReplicated() {
	s.t.Helper()
	c := redis.NewSentinelClient(&redis.Options{Addr: s.sentinels[0].Addr, MaxRetries: -1})
	got, err := c.GetMasterAddrByName(context.Background(), SentinelMaster).Result()
	c.Close()
	if err != nil || len(got) != 2 {
		s.t.Fatalf("ask a sentinel for the master: %v %v", got, err)
	}
	waitReplicas(s.t, got[0]+":"+got[1], "redistest:replicated", 1)
}

// waitReplicas writes marker on the master at addr and sends WAIT on the
// same connection. WAIT only covers the writes of the connection that
// sends it; the replication stream is ordered, so once replicas have
// acknowledged the marker they hold every write the master took before
// it, the broker's included.
func waitReplicas(t testing.TB, addr, marker string, replicas int) {
	t.Helper()
	ctx := context.Background()
	cl := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer cl.Close()
	conn := cl.Conn()
	defer conn.Close()
	if err := conn.Set(ctx, marker, "1", time.Minute).Err(); err != nil {
		t.Fatalf("write the replication marker on %s: %v", addr, err)
	}
	acked, err := conn.Wait(ctx, replicas, replicationTimeout).Result()
	if err != nil || acked < int64(replicas) {
		t.Fatalf("WAIT %d on %s: %d replicas acknowledged within %s (%v)", replicas, addr, acked, replicationTimeout, err)
	}
}

// hashTag is the part of key Redis Cluster hashes: the text between the
// first '{' and the next '}' when it is not empty, else the whole key.
func hashTag(key string) string {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			return key[i+1 : i+1+j]
		}
	}
	return key
}
