package bench

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/budget"
	"github.com/keybroker/keybroker/internal/config"
	"github.com/keybroker/keybroker/internal/lease"
	"github.com/keybroker/keybroker/internal/secret"
	"github.com/keybroker/keybroker/internal/store"
	"github.com/keybroker/keybroker/internal/view"
	"github.com/keybroker/keybroker/server"
)

// replica is one broker in this process, wired as `keybroker serve`
// wires it with default flags: its own Redis connections, the store, the
// in-memory view (or the store as selector, for the per-call Redis mode),
// the service, and server.NewGRPCServer with the default configuration
// (the same interceptors, keepalive, limits and health) on loopback TCP.
type replica struct {
	addr    string
	store   *store.Store
	view    *view.View // nil in per-call Redis mode
	client  pb.KeyBrokerServiceClient
	budgets *budget.Tracker
	stop    func()
}

// startReplica starts a broker on the Redis at redisAddr. With memory it
// serves GetRandom from the view (which it runs), otherwise from Redis.
func startReplica(ctx context.Context, redisAddr string, memory bool, log *slog.Logger) (*replica, error) {
	rdb, err := store.Connect(store.RedisConfig{Addrs: []string{redisAddr}, Timeout: time.Second})
	if err != nil {
		return nil, err
	}
	key, err := store.LoadBrokerKey(ctx, rdb, nil)
	if err != nil {
		rdb.Close()
		return nil, err
	}
	r := &replica{store: store.New(rdb, secret.NewIDs(secret.Derive(key, "key-id")))}
	policies := config.Default()
	var sel server.Selector = r.store
	if memory {
		r.view = view.New(r.store, policies, view.WithLogger(log))
		sel = r.view
	}
	// Budgets on, as serve runs them: the bench's pools declare no
	// limits, so this measures what budgets cost a pool without any.
	budgets := budget.New(r.store, policies, budget.WithLogger(log))
	svc := server.New(r.store, lease.NewSigner(secret.Derive(key, "lease")),
		server.WithPolicies(policies), server.WithLogger(log), server.WithSelector(sel), server.WithBudgets(budgets))
	r.budgets = budgets
	return r, r.serve(ctx, rdb, svc, log)
}

// serve runs the gRPC server, health monitoring and the view until stop.
func (r *replica) serve(ctx context.Context, rdb redis.UniversalClient, svc *server.Service, log *slog.Logger) error {
	hs := health.NewServer()
	gs := server.NewGRPCServer(svc, hs, log, server.DefaultGRPCConfig())
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		rdb.Close()
		return fmt.Errorf("listen: %w", err)
	}
	r.addr = lis.Addr().String()
	conn, err := grpc.NewClient(r.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		rdb.Close()
		return err
	}
	r.client = pb.NewKeyBrokerServiceClient(conn)
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{}, 4)
	go func() { _ = r.budgets.Run(rctx); done <- struct{}{} }()
	go func() { _ = gs.Serve(lis); done <- struct{}{} }()
	go func() { server.MonitorHealth(rctx, hs, r.store.Ping, 2*time.Second, log); done <- struct{}{} }()
	go func() {
		if r.view != nil {
			_ = r.view.Run(rctx)
		}
		done <- struct{}{}
	}()
	r.stop = func() {
		cancel()
		gs.Stop()
		for range 4 {
			<-done
		}
		conn.Close()
		rdb.Close()
	}
	return nil
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
