// Package brokertest runs a real keybroker for tests over a real
// redis-server (see redistest) on a free loopback port, built by
// broker.New exactly as `keybroker serve` builds it with default flags
// (in-memory view, broker key from Redis, worker on). Tests of the client,
// the admin CLI, the Node example and the grpcurl runbook all talk to it
// over the network, as their users would talk to a deployed broker.
package brokertest

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/broker"
	"github.com/keybroker/keybroker/internal/config"
	"github.com/keybroker/keybroker/internal/redistest"
	"github.com/keybroker/keybroker/internal/store"
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

	broker *broker.Broker
}

// Start runs a broker over a fresh redis-server with the pool policies of
// cfg (nil: built-in defaults) and stops it, and its Redis, at the end of
// the test.
func Start(t testing.TB, cfg *config.Config) *Broker {
	t.Helper()
	rs := redistest.Start(t)
	kb, stop, err := serve([]string{rs.Addr}, cfg)
	if err != nil {
		t.Fatalf("brokertest: %v", err)
	}
	t.Cleanup(stop)
	b := &Broker{Addr: kb.Addr(), Redis: rs, broker: kb}
	conn, err := grpc.NewClient(b.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("brokertest: dial %s: %v", b.Addr, err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	b.Client = pb.NewKeyBrokerServiceClient(conn)
	return b
}

// Serve runs a broker on the embedded store with the pool policies of cfg
// (nil: built-in defaults) on a free loopback port until stop is called.
// It is for callers without a testing.TB or a redis-server, such as
// runnable examples.
func Serve(cfg *config.Config) (addr string, stop func(), err error) {
	b, stop, err := serve(nil, cfg)
	if err != nil {
		return "", nil, err
	}
	return b.Addr(), stop, nil
}

// serve builds the broker through broker.New as `keybroker serve` does
// with default flags, on loopback: the broker key loaded from Redis, the
// in-memory view, the validation worker; it runs it until stop.
func serve(redisAddrs []string, cfg *config.Config) (*broker.Broker, func(), error) {
	bc := broker.Config{
		Redis:  store.RedisConfig{Addrs: redisAddrs, Timeout: time.Second},
		Listen: "127.0.0.1:0",
		Worker: &broker.WorkerConfig{Name: "brokertest"},
	}
	if cfg != nil {
		bc.Policies = cfg
	}
	b, err := broker.New(context.Background(), bc)
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = b.Run(ctx) }()
	return b, func() { cancel(); <-done }, nil
}

// Add puts secrets into pool and returns their key ids in order.
func (b *Broker) Add(t testing.TB, pool string, secrets ...string) []string {
	t.Helper()
	resp, err := b.Client.Add(ctx(t), &pb.AddRequest{Pool: pool, Secrets: secrets})
	if err != nil {
		t.Fatalf("brokertest: Add to %q: %v", pool, err)
	}
	return resp.GetKeyIds()
}

// Keys returns every key of pool by key id, paging through GetAll. It
// first writes the lease counts the in-memory view holds (a served broker
// writes them every second), so LeaseCount counts every lease so far.
func (b *Broker) Keys(t testing.TB, pool string) map[string]*pb.Key {
	t.Helper()
	b.broker.View().Flush(ctx(t))
	out := map[string]*pb.Key{}
	req := &pb.GetAllRequest{Pool: pool, PageSize: 1000}
	for {
		resp, err := b.Client.GetAll(ctx(t), req)
		if err != nil {
			t.Fatalf("brokertest: GetAll %q: %v", pool, err)
		}
		for _, k := range resp.GetKeys() {
			out[k.GetKeyId()] = k
		}
		if resp.GetNextPageToken() == "" {
			return out
		}
		req.PageToken = resp.GetNextPageToken()
	}
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}
