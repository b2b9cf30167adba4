// Package brokertest runs a real keybroker for tests: the gRPC service of
// package server over a real redis-server (see redistest), on a free
// loopback port, wired the way `keybroker serve` wires it. Tests of the
// client, the admin CLI, the Node example and the grpcurl runbook all talk
// to it over the network, as their users would talk to a deployed broker.
package brokertest

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/config"
	"github.com/keybroker/keybroker/internal/lease"
	"github.com/keybroker/keybroker/internal/redistest"
	"github.com/keybroker/keybroker/internal/secret"
	"github.com/keybroker/keybroker/internal/store"
	"github.com/keybroker/keybroker/server"
)

// Broker is a running broker owned by a test.
type Broker struct {
	// Addr is the broker's host:port on 127.0.0.1.
	Addr string
	// Client is a plain generated client for the test's own checks (seeding
	// keys, reading states), independent of the code under test.
	Client pb.KeyBrokerServiceClient
	// Redis is the redis-server behind the broker.
	Redis *redistest.Server
}

// Start runs a broker with the pool policies of cfg (nil: built-in
// defaults) and stops it, and its Redis, at the end of the test.
func Start(t testing.TB, cfg *config.Config) *Broker {
	t.Helper()
	rs := redistest.Start(t)
	addr, stop, err := Serve(rs.Client(), cfg)
	if err != nil {
		t.Fatalf("brokertest: %v", err)
	}
	t.Cleanup(stop)
	b := &Broker{Addr: addr, Redis: rs}
	conn, err := grpc.NewClient(b.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("brokertest: dial %s: %v", b.Addr, err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	b.Client = pb.NewKeyBrokerServiceClient(conn)
	return b
}

// Serve runs a broker over rdb with the pool policies of cfg (nil:
// built-in defaults) on a free loopback port until stop is called. It is
// for callers without a testing.TB, such as runnable examples.
func Serve(rdb redis.UniversalClient, cfg *config.Config) (addr string, stop func(), err error) {
	if cfg == nil {
		cfg = config.Default()
	}
	// A fresh broker key per broker: a test broker has no other replica to
	// agree with, and this keeps the helper off the key's storage format.
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return "", nil, err
	}
	st := store.New(rdb, secret.NewIDs(secret.Derive(key, "key-id")))
	svc := server.New(st, lease.NewSigner(secret.Derive(key, "lease")), server.WithPolicies(cfg))
	gs := server.NewGRPCServer(svc, health.NewServer(), slog.New(slog.DiscardHandler), server.DefaultGRPCConfig())
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("listen: %w", err)
	}
	go func() { _ = gs.Serve(lis) }()
	return lis.Addr().String(), gs.Stop, nil
}

// Add puts secrets into pool and returns their key ids in order.
func (b *Broker) Add(t testing.TB, pool string, secrets ...string) []string {
	t.Helper()
	resp, err := b.Client.Add(ctx(t), &pb.AddRequest{Pool: pool, Secrets: secrets})
	if err != nil {
		t.Fatalf("brokertest: Add to %q: %v", pool, err)
	}
	return resp.KeyIds
}

// Keys returns every key of pool by key id, paging through GetAll.
func (b *Broker) Keys(t testing.TB, pool string) map[string]*pb.Key {
	t.Helper()
	out := map[string]*pb.Key{}
	req := &pb.GetAllRequest{Pool: pool, PageSize: 1000}
	for {
		resp, err := b.Client.GetAll(ctx(t), req)
		if err != nil {
			t.Fatalf("brokertest: GetAll %q: %v", pool, err)
		}
		for _, k := range resp.Keys {
			out[k.KeyId] = k
		}
		if resp.NextPageToken == "" {
			return out
		}
		req.PageToken = resp.NextPageToken
	}
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}
