package view_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/keybroker/keybroker/internal/config"
	"github.com/keybroker/keybroker/internal/lease"
	"github.com/keybroker/keybroker/internal/redistest"
	"github.com/keybroker/keybroker/internal/secret"
	"github.com/keybroker/keybroker/internal/store"
	"github.com/keybroker/keybroker/internal/testkit"
	"github.com/keybroker/keybroker/internal/view"
	"github.com/keybroker/keybroker/server"
)

// policyYAML gives each strategy a pool; other pools are random.
const policyYAML = `
pools:
  rr: {selection: round_robin}
  weighted: {selection: weighted}
  least: {selection: least_used}
`

// idKey is the key-id key every replica of a test shares, as replicas of
// one deployment share the broker key.
var idKey = []byte("view-test-key-ids")

// replica is one broker: its own Redis connections, store, view and
// service, as one process would hold them.
type replica struct {
	rdb   redistest.Client // raw, for reading Redis behind the store's back
	store *store.Store
	view  *view.View
	svc   *server.Service
}

// startReplica runs a replica over the Redis at addr until the test ends.
func startReplica(t *testing.T, addr string, opts ...view.Option) *replica {
	t.Helper()
	policies, err := config.Parse("policy.yaml", []byte(policyYAML))
	if err != nil {
		t.Fatal(err)
	}
	return startReplicaWith(t, addr, policies, opts...)
}

// startReplicaWith is startReplica with the given pool policies.
func startReplicaWith(t *testing.T, addr string, policies view.Policies, opts ...view.Option) *replica {
	t.Helper()
	conn, err := store.Open(t.Context(), store.RedisConfig{Addrs: []string{addr}, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	st := conn.Store(secret.NewIDs(idKey))
	v := view.New(st, policies, opts...)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- v.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	svc := server.New(st, lease.NewSigner([]byte("view-test-lease")), server.WithSelector(v), server.WithPolicies(policies))
	return &replica{rdb: redistest.Dial(t, addr), store: st, view: v, svc: svc}
}

// waitLimit and poll are how long and how often tests wait on asynchronous
// work (testkit.Eventually); the limit only keeps a broken test from
// hanging, it judges nothing.
const (
	waitLimit = 20 * time.Second
	poll      = 5 * time.Millisecond
)

// agrees reports whether the replica's view of pool holds exactly the
// keys Redis has active.
func (r *replica) agrees(pool string) (bool, string) {
	active, err := r.rdb.SMembers(context.Background(), "kb:{"+pool+"}:active").Result()
	if err != nil {
		return false, err.Error()
	}
	n, loaded := r.view.Len(pool)
	if !loaded && len(active) > 0 {
		return false, "pool not loaded"
	}
	if n != len(active) {
		return false, fmt.Sprintf("view holds %d keys, Redis %d active", n, len(active))
	}
	for _, id := range active {
		if !r.view.Contains(pool, id) {
			return false, "view lacks active key " + id
		}
	}
	return true, ""
}

// waitAgree waits until every replica's view of pool agrees with Redis.
func waitAgree(t *testing.T, pool string, rs ...*replica) {
	t.Helper()
	for i, r := range rs {
		testkit.EventuallyWhy(t, waitLimit, poll, fmt.Sprintf("replica %d agrees with Redis on %s", i, pool), func() (bool, string) { return r.agrees(pool) })
	}
}

// waitLoaded waits until the view serves pool with n keys.
func waitLoaded(t *testing.T, r *replica, pool string, n int) {
	t.Helper()
	testkit.EventuallyWhy(t, waitLimit, poll, "pool "+pool+" loaded", func() (bool, string) {
		got, loaded := r.view.Len(pool)
		return loaded && got == n, fmt.Sprintf("loaded %v with %d keys, want %d", loaded, got, n)
	})
}

func testSecrets(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("sk-%s-%05d-abcdefghijklmnopqrstuvwx", prefix, i)
	}
	return out
}

// redisPipe is the transaction pipeline tests write raw changes with.
type redisPipe = redistest.Pipe

func zmember(id string) redistest.Z { return redistest.Z{Score: 0, Member: id} }
