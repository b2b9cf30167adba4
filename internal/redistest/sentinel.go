package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keybroker/keybroker/internal/redisproc"
)

// SentinelMaster is the master name the Sentinel topology monitors.
const SentinelMaster = "kbmaster"

// Sentinel is one master, one replica and three sentinels watching them,
// on free loopback ports, with timeouts short enough that a failover
// completes in seconds. Everything stops at cleanup.
type Sentinel struct {
	t         testing.TB
	Master    *redisproc.Server
	Replica   *redisproc.Server
	sentinels []*redisproc.Server
}

// StartSentinel starts the master, its replica and the sentinels.
func StartSentinel(t testing.TB) *Sentinel {
	t.Helper()
	bin, err := redisproc.Binary()
	if err != nil {
		t.Fatal(err)
	}
	s := &Sentinel{t: t}
	t.Cleanup(s.Stop)
	// Without a sync delay a replica is in step within milliseconds
	// instead of Redis's default 5s.
	nodeArgs := []string{"--repl-diskless-sync-delay", "0"}
	if s.Master, err = redisproc.StartWith(bin, t.TempDir(), "", nodeArgs); err != nil {
		t.Fatal(err)
	}
	host, port := splitAddr(s.Master.Addr)
	if s.Replica, err = redisproc.StartWith(bin, t.TempDir(), "", append(nodeArgs, "--replicaof", host, port)); err != nil {
		t.Fatal(err)
	}
	waitLinked(t, s.Replica.Addr)
	for range 3 {
		dir := t.TempDir()
		conf := filepath.Join(dir, "sentinel.conf")
		body := fmt.Sprintf("sentinel monitor %s %s %s 2\nsentinel down-after-milliseconds %s 1000\nsentinel failover-timeout %s 5000\n",
			SentinelMaster, host, port, SentinelMaster, SentinelMaster)
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		sn, err := redisproc.StartWith(bin, dir, conf, []string{"--sentinel"})
		if err != nil {
			t.Fatal(err)
		}
		s.sentinels = append(s.sentinels, sn)
	}
	s.waitMaster(s.Master.Addr)
	return s
}

// Addrs are the sentinels' addresses (what keybroker's --redis takes in
// Sentinel mode).
func (s *Sentinel) Addrs() []string {
	out := make([]string, len(s.sentinels))
	for i, n := range s.sentinels {
		out[i] = n.Addr
	}
	return out
}

// Client returns a failover client, closed at cleanup.
func (s *Sentinel) Client() *redis.Client {
	c := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: SentinelMaster, SentinelAddrs: s.Addrs()})
	s.t.Cleanup(func() { _ = c.Close() })
	return c
}

// Failover kills the master and waits until the sentinels name the
// replica as the new master.
func (s *Sentinel) Failover() {
	s.t.Helper()
	s.Master.Stop()
	s.waitMaster(s.Replica.Addr)
}

// Stop kills every process.
func (s *Sentinel) Stop() {
	for _, n := range append(s.sentinels, s.Master, s.Replica) {
		if n != nil {
			n.Stop()
		}
	}
}

// waitMaster waits until every sentinel reports addr as the master and
// that master accepts writes.
func (s *Sentinel) waitMaster(addr string) {
	s.t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if s.allAgree(ctx, addr) {
			m := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
			err := m.Set(ctx, "kbtest:probe", "1", time.Second).Err()
			m.Close()
			if err == nil {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("sentinels did not agree on master %s within 60s", addr)
}

func (s *Sentinel) allAgree(ctx context.Context, addr string) bool {
	for _, sn := range s.sentinels {
		c := redis.NewSentinelClient(&redis.Options{Addr: sn.Addr, MaxRetries: -1})
		got, err := c.GetMasterAddrByName(ctx, SentinelMaster).Result()
		c.Close()
		if err != nil || len(got) != 2 || got[0]+":"+got[1] != addr {
			return false
		}
	}
	return true
}

func splitAddr(addr string) (host, port string) {
	host, port, _ = net.SplitHostPort(addr)
	return host, port
}

// waitLinked waits until the replica at addr has synced with its master
// (master_link_status:up), so data written next reaches it.
func waitLinked(t testing.TB, addr string) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if info, err := c.Info(context.Background(), "replication").Result(); err == nil && strings.Contains(info, "master_link_status:up") {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("replica %s did not sync with its master within 30s", addr)
}
