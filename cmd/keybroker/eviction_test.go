package main

import (
	"strings"
	"testing"

	"github.com/keybroker/keybroker/internal/redistest"
)

// A Redis that evicts keys when full (allkeys-lru) dropped the broker key
// and a pool's indexes under a report flood, and admins then saw an empty
// pool. The broker now refuses such a Redis at start, says why, and runs
// on it only when told to; a Redis whose CONFIG is forbidden (managed
// Redis) gets a warning, not a refusal.
func TestServeRefusesAnEvictingRedis(t *testing.T) {
	rs := redistest.Start(t)
	raw := rs.Client()
	defer raw.Close()
	ctx := ctxT(t)
	if err := raw.ConfigSet(ctx, "maxmemory-policy", "allkeys-lru").Err(); err != nil {
		t.Fatal(err)
	}
	out, code := runBinary(t, nil, "serve", "--listen", freeAddr(t), "--redis", rs.Addr)
	if code != 1 || !strings.Contains(out, "maxmemory-policy is allkeys-lru") || !strings.Contains(out, "noeviction") {
		t.Fatalf("serve on an allkeys-lru Redis: exit %d\n%s", code, out)
	}
	out, code = runBinary(t, nil, "worker", "--redis", rs.Addr)
	if code != 1 || !strings.Contains(out, "maxmemory-policy is allkeys-lru") {
		t.Fatalf("worker on an allkeys-lru Redis: exit %d\n%s", code, out)
	}

	b := startBroker(t, "--redis", rs.Addr, "--allow-redis-eviction")
	if err := b.stop(t); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, b.out)
	}
	if !strings.Contains(b.out.String(), "--allow-redis-eviction is set") {
		t.Fatalf("no warning when running on an evicting Redis:\n%s", b.out)
	}

	// A user that may not run CONFIG, as on many managed services.
	if err := raw.Do(ctxT(t), "ACL", "SETUSER", "app", "on", ">app-password-123", "~*", "&*", "+@all", "-config").Err(); err != nil {
		t.Fatal(err)
	}
	b = startBroker(t, "--redis", "redis://app:app-password-123@"+rs.Addr, "--allow-redis-eviction=false")
	if err := b.stop(t); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, b.out)
	}
	if !strings.Contains(b.out.String(), "cannot read Redis's maxmemory-policy") {
		t.Fatalf("no warning when CONFIG is forbidden:\n%s", b.out)
	}
}
