package metrics

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/keybroker/keybroker/internal/redistest"
	"github.com/keybroker/keybroker/internal/store"
)

// TestHealthyRedisCountsNoErrors connects to a healthy Redis 7.0, which
// refuses the CLIENT SETINFO go-redis sends on every new connection (that
// command came with 7.2): no command of ours failed, so the error counter
// must stay at zero.
func TestHealthyRedisCountsNoErrors(t *testing.T) {
	rs := redistest.Start(t)
	ctx := context.Background()
	m := New()
	conn, err := store.Open(ctx, store.RedisConfig{Addrs: []string{rs.Client().Options().Addr}, Hook: m.RedisHook()})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for range 3 {
		if err := conn.Ping(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := series(t, m, "keybroker_redis_errors_total"); got != "" {
		t.Fatalf("redis_errors_total on a healthy Redis: %s", got)
	}
}

// series returns the non-zero series of a metric family, one per line.
func series(t *testing.T, m *Metrics, name string) string {
	t.Helper()
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, mt := range f.GetMetric() {
			if v := mt.GetCounter().GetValue(); v != 0 {
				fmt.Fprintf(&b, "%v %v\n", mt.GetLabel(), v)
			}
		}
	}
	return b.String()
}
