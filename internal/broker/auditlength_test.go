package broker_test

import (
	"testing"
	"time"

	"github.com/keybroker/keybroker/internal/broker"
	"github.com/keybroker/keybroker/internal/config"
	"github.com/keybroker/keybroker/internal/redistest"
	"github.com/keybroker/keybroker/internal/store"
	"github.com/keybroker/keybroker/internal/testkit"
)

// A pool's audit_length reaches Redis, where the scripts that write the
// audit trail read it.
func TestAuditLengthFromThePolicy(t *testing.T) {
	rs := redistest.Start(t)
	pol, err := config.Parse("pools.yaml", []byte("pools:\n  small:\n    audit_length: 200\n  plain: {}\n"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := broker.New(t.Context(), broker.Config{Redis: store.RedisConfig{Addrs: []string{rs.Addr}}, Policies: pol})
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, b)
	defer func() {
		if err := stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	rdb := rs.Client()
	defer rdb.Close()
	testkit.Eventually(t, 10*time.Second, 10*time.Millisecond, "audit_length in Redis", func() bool {
		return rdb.Get(t.Context(), "kb:{small}:audit:max").Val() == "200"
	})
	if n := rdb.Exists(t.Context(), "kb:{plain}:audit:max").Val(); n != 0 {
		t.Fatal("a pool with the default audit length got a stored cap")
	}
}
