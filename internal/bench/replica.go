package bench

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/broker"
	"github.com/keybroker/keybroker/internal/store"
	"github.com/keybroker/keybroker/internal/view"
)

// replica is one broker in this process, built by broker.New exactly as
// `keybroker serve` builds it with default flags (worker off): its own
// Redis connections, the store, the in-memory view (or the store as
// selector, for the per-call Redis mode), the service and the gRPC server
// on loopback TCP, with its background loops.
type replica struct {
	addr   string
	store  *store.Store
	view   *view.View // nil in per-call Redis mode
	client pb.KeyBrokerServiceClient
	stop   func()
}

// startReplica starts a broker on the Redis at redisAddr. With memory it
// serves GetRandom from the view (which it runs), otherwise from Redis.
func startReplica(ctx context.Context, redisAddr string, memory bool, log *slog.Logger) (*replica, error) {
	sel := broker.SelectRedis
	if memory {
		sel = broker.SelectMemory
	}
	b, err := broker.New(ctx, broker.Config{
		Redis:     store.RedisConfig{Addrs: []string{redisAddr}, Timeout: time.Second},
		Listen:    "127.0.0.1:0",
		Selection: sel,
		Logger:    log,
	})
	if err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient(b.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Close()
		return nil, err
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() { defer close(done); _ = b.Run(rctx) }()
	return &replica{
		addr:   b.Addr(),
		store:  b.Store(),
		view:   b.View(),
		client: pb.NewKeyBrokerServiceClient(conn),
		stop: func() {
			conn.Close()
			cancel()
			<-done
		},
	}, nil
}

// waitLoaded waits until the view serves pool with at least n keys.
func (r *replica) waitLoaded(ctx context.Context, pool string, n int) error {
	for {
		if got, loaded := r.view.Len(pool); loaded && got >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// waitAllLoaded waits until the view serves every bench pool in full.
func (r *replica) waitAllLoaded(ctx context.Context, keys int) error {
	ctx, cancel := context.WithTimeout(ctx, startupBudget)
	defer cancel()
	for pool, n := range map[string]int{poolLarge: keys, poolSmall: smallKeys, poolProp: propKeys} {
		if err := r.waitLoaded(ctx, pool, n); err != nil {
			return fmt.Errorf("loading pool %s: %w", pool, err)
		}
	}
	return nil
}
