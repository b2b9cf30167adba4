package store

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keybroker/keybroker/internal/redistest"
	"github.com/keybroker/keybroker/internal/secret"
	"github.com/keybroker/keybroker/internal/testkit"
)

func newClock() *testkit.Clock { return testkit.NewClock(time.UnixMilli(1_800_000_000_000)) }

type fixture struct {
	st    *Store
	rdb   redis.UniversalClient
	clock *testkit.Clock
}

func newFixture(t *testing.T, opts ...Option) fixture {
	t.Helper()
	rdb := redistest.Deploy(t).Client()
	c := newClock()
	opts = append([]Option{WithClock(c.Now)}, opts...)
	return fixture{st: New(rdb, secret.NewIDs([]byte("test-key")), opts...), rdb: rdb, clock: c}
}

func secrets(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("sk-test-%06d-abcdefghijklmnop", i)
	}
	return out
}

func (f fixture) add(t *testing.T, pool string, n int) []string {
	t.Helper()
	res, err := f.st.Add(context.Background(), pool, secrets(n))
	if err != nil {
		t.Fatalf("Add: %v", err)
	}
	return res.KeyIDs
}

// checkInvariants reads the pool's raw Redis data and fails unless every
// index agrees with every key's hash: each key in exactly one state index,
// the selectable set equal to the active index, the wake schedule holding
// exactly the keys with an end time, every key on the worker's schedule,
// the quarantine times exactly the quarantined keys, held keys suspect
// and a hold recorded exactly while some key is held, and nothing indexed
// that is not stored.
func checkInvariants(t *testing.T, rdb redis.UniversalClient, pool string) {
	t.Helper()
	ctx := context.Background()
	p := prefix(pool)
	all := members(t, rdb.ZRange(ctx, p+"all", 0, -1))
	byState := map[State][]string{}
	for _, st := range States() {
		byState[st] = members(t, rdb.ZRange(ctx, p+"ix:"+string(st), 0, -1))
	}
	selectable := members(t, rdb.SMembers(ctx, p+"active"))
	wake := members(t, rdb.ZRange(ctx, p+"wake", 0, -1))
	if due := members(t, rdb.ZRange(ctx, p+"due", 0, -1)); !slices.Equal(due, all) {
		t.Errorf("worker schedule %v != every key %v", due, all)
	}
	if !slices.Equal(selectable, byState[Active]) {
		t.Errorf("selectable set %v != active index %v", selectable, byState[Active])
	}
	var indexed, timed []string
	for _, id := range all {
		h, err := rdb.HGetAll(ctx, p+"k:"+id).Result()
		if err != nil || len(h) == 0 {
			t.Errorf("key %s indexed but its hash is missing (%v)", id, err)
			continue
		}
		st := State(h["st"])
		if !slices.Contains(byState[st], id) {
			t.Errorf("key %s in state %s is missing from that index", id, st)
		}
		if h["un"] != "0" {
			timed = append(timed, id)
		}
	}
	for _, st := range States() {
		indexed = append(indexed, byState[st]...)
	}
	slices.Sort(indexed)
	slices.Sort(timed)
	if !slices.Equal(indexed, all) {
		t.Errorf("state indexes hold %d ids, all holds %d: %v vs %v", len(indexed), len(all), indexed, all)
	}
	if !slices.Equal(wake, timed) {
		t.Errorf("wake schedule %v != keys with an end time %v", wake, timed)
	}
	if qt := members(t, rdb.ZRange(ctx, p+"qtime", 0, -1)); !slices.Equal(qt, byState[Quarantined]) {
		t.Errorf("quarantine times %v != quarantined index %v", qt, byState[Quarantined])
	}
	held := members(t, rdb.SMembers(ctx, p+"held"))
	for _, id := range held {
		if !slices.Contains(byState[Suspect], id) {
			t.Errorf("held key %s is not suspect", id)
		}
	}
	if n, _ := rdb.Exists(ctx, p+"hold").Result(); (n == 1) != (len(held) > 0) {
		t.Errorf("hold record exists: %v, held keys: %v", n == 1, held)
	}
}

func members(t *testing.T, cmd *redis.StringSliceCmd) []string {
	t.Helper()
	v, err := cmd.Result()
	if err != nil {
		t.Fatalf("read index: %v", err)
	}
	slices.Sort(v)
	return v
}

func TestLoadBrokerKeyIsCreatedOnceAndShared(t *testing.T) {
	rdb := redistest.Deploy(t).Client()
	ctx := context.Background()
	a, err := LoadBrokerKey(ctx, rdb, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadBrokerKey(ctx, rdb, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != BrokerKeyLen || string(a) != string(b) {
		t.Fatalf("two loads disagree or have the wrong length: %x vs %x", a, b)
	}
}
