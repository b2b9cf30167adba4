package broker_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keybroker/keybroker/failure"
	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/broker"
	"github.com/keybroker/keybroker/internal/buildinfo"
	"github.com/keybroker/keybroker/internal/redistest"
	"github.com/keybroker/keybroker/internal/store"
	"github.com/keybroker/keybroker/internal/testkit"
)

// TestStatusAndBuildInfo: GetStatus names the version and the in-process
// worker, and the HTTP port serves the status page, keybroker_build_info
// and the per-pool min_keys.
func TestStatusAndBuildInfo(t *testing.T) {
	rs := redistest.Start(t)
	b := startHTTP(t, broker.Config{
		Redis:   store.RedisConfig{Addrs: []string{rs.Addr}},
		Worker:  &broker.WorkerConfig{Name: "status-test"},
		Version: buildinfo.Version{Version: "v9.9.9", GoVersion: "go1.x"},
	})
	if _, err := b.Store().Add(context.Background(), "p", []string{"sk-status-test-0123456789"}); err != nil {
		t.Fatal(err)
	}
	st, err := pb.NewKeyBrokerServiceClient(dial(t, b.Addr())).GetStatus(callCtx(t), &pb.GetStatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(st.GetVersion(), "v9.9.9") || st.GetWorker().GetName() != "status-test" || !st.GetStoreReachable() || len(st.GetPools()) != 1 {
		t.Fatalf("GetStatus = %v", st)
	}
	get := func(path string) string {
		resp, err := http.Get("http://" + b.MetricsAddr() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %s", path, resp.Status)
		}
		return string(body)
	}
	if page := get("/status"); !strings.Contains(page, "status-test") || !strings.Contains(page, "v9.9.9") {
		t.Fatalf("status page:\n%s", page)
	}
	m := get("/metrics")
	for _, want := range []string{`keybroker_build_info{goversion="go1.x",revision="",version="v9.9.9"} 1`, `keybroker_pool_min_keys{pool="p"} 3`} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// A pool whose removal brake holds (a broken upstream answered 401 for
// more keys than the brake allows) is named on the status page, with what
// holds and how to lift it, so an operator sees it without reading metrics.
func TestStatusPageShowsHeldRemovals(t *testing.T) {
	rs := redistest.Start(t)
	b := startHTTP(t, broker.Config{Redis: store.RedisConfig{Addrs: []string{rs.Addr}}})
	ctx := context.Background()
	ids, err := b.Store().Add(ctx, "held", []string{"sk-held-test-aaaaaaaaaa01", "sk-held-test-aaaaaaaaaa02", "sk-held-test-aaaaaaaaaa03"})
	if err != nil {
		t.Fatal(err)
	}
	page := func() string {
		resp, err := http.Get("http://" + b.MetricsAddr() + "/status")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return string(body)
	}
	if p := page(); strings.Contains(p, "Removals held") {
		t.Fatalf("a pool with no hold shows one:\n%s", p)
	}
	strike := func(id string, seen store.State) {
		t.Helper()
		if _, err := b.Store().Apply(ctx, "held", id, store.Check{Seen: seen, Kind: failure.InvalidKey, Reason: "invalid_api_key",
			Next: store.Schedule{Active: time.Minute, Disabled: time.Minute, Retry: time.Minute}, Actor: "worker", Brake: store.Brake{Count: 1, Window: 10 * time.Minute}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range ids.KeyIDs {
		strike(id, store.Active)
	}
	for _, id := range ids.KeyIDs {
		strike(id, store.Suspect)
	}
	if p := page(); !strings.Contains(p, "Removals held") || !strings.Contains(p, "keys release --pool held") {
		t.Fatalf("the status page does not show the held pool:\n%s", p)
	}
}

// A pool that declares rate limits shows each key's budget left in its
// window on the status page, after a lease spent some of it.
func TestStatusPageShowsBudgets(t *testing.T) {
	rs := redistest.Start(t)
	b := startHTTP(t, broker.Config{
		Redis:    store.RedisConfig{Addrs: []string{rs.Addr}},
		Policies: policyOf(t, "pools:\n  b:\n    limits:\n      requests_per_minute: 100\n"),
	})
	c := pb.NewKeyBrokerServiceClient(dial(t, b.Addr()))
	if _, err := c.Add(callCtx(t), &pb.AddRequest{Pool: "b", Secrets: []string{"sk-budget-page-0123456789"}}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, wait, 10*time.Millisecond, "a lease", func() bool {
		_, err := c.GetRandom(callCtx(t), &pb.GetRandomRequest{Pool: "b"})
		return err == nil
	})
	var page string
	testkit.Eventually(t, wait, 50*time.Millisecond, "the key's budget on its pool page", func() bool {
		resp, err := http.Get("http://" + b.MetricsAddr() + "/status/pools/b")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		page = string(body)
		return strings.Contains(page, "of 100 requests left until")
	})
	if strings.Contains(page, "sk-budget-page-0123456789") {
		t.Fatal("the status page shows a secret")
	}
}
