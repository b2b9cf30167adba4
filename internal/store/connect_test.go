package store

import (
	"context"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/keybroker/keybroker/internal/redistest"
)

func TestConnectSingleNodeByAddressAndURL(t *testing.T) {
	srv := redistest.Start(t)
	for _, addr := range []string{srv.Addr, "redis://" + srv.Addr + "/2"} {
		rdb, err := connect(RedisConfig{Addrs: []string{addr}})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := rdb.(*redis.Client); !ok {
			t.Errorf("%s: got %T, want a single-node client", addr, rdb)
		}
		if err := rdb.Ping(context.Background()).Err(); err != nil {
			t.Errorf("%s: ping: %v", addr, err)
		}
		rdb.Close()
	}
}

func TestConnectPicksTopology(t *testing.T) {
	cluster, err := connect(RedisConfig{Addrs: []string{"127.0.0.1:7000", "127.0.0.1:7001"}})
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	if _, ok := cluster.(*redis.ClusterClient); !ok {
		t.Errorf("two addresses: got %T, want a cluster client", cluster)
	}
	sentinel, err := connect(RedisConfig{Addrs: []string{"127.0.0.1:26379"}, MasterName: "mymaster"})
	if err != nil {
		t.Fatal(err)
	}
	defer sentinel.Close()
	if _, ok := sentinel.(*redis.Client); !ok { // a failover client is a *redis.Client
		t.Errorf("sentinel: got %T", sentinel)
	}
}

func TestConnectErrorsHidePasswords(t *testing.T) {
	_, err := connect(RedisConfig{Addrs: []string{"redis://user:hunter2@host:notaport/x"}})
	if err == nil {
		t.Fatal("bad URL accepted")
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error shows the password: %v", err)
	}
	if _, err := connect(RedisConfig{}); err == nil {
		t.Fatal("no address accepted")
	}
}
