package broker_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/broker"
	"github.com/keybroker/keybroker/internal/buildinfo"
	"github.com/keybroker/keybroker/internal/redistest"
	"github.com/keybroker/keybroker/internal/store"
)

// TestStatusAndBuildInfo: GetStatus names the version and the in-process
// worker, and the HTTP port serves the status page, keybroker_build_info
// and the per-pool min_keys.
func TestStatusAndBuildInfo(t *testing.T) {
	rs := redistest.Start(t)
	b, err := broker.New(context.Background(), broker.Config{
		Redis:       store.RedisConfig{Addrs: []string{rs.Client().Options().Addr}},
		Listen:      "127.0.0.1:0",
		MetricsAddr: "127.0.0.1:0",
		Worker:      &broker.WorkerConfig{Name: "status-test"},
		Version:     buildinfo.Version{Version: "v9.9.9", GoVersion: "go1.x"},
	})
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, b)
	defer func() {
		if err := stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
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
