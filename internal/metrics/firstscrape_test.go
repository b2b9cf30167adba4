package metrics

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// firstScrape returns the series names a broker exposes before anything
// happened, set up as keybroker serve sets it up: build info, the pools
// known at start prepared, the scrape-time collectors registered.
func firstScrape(t *testing.T) map[string]bool {
	t.Helper()
	m := New()
	m.SetBuildInfo("v1.0.0", "abc", "go1.26")
	m.Prepare([]PoolInfo{{Name: "p", Validator: "openai"}})
	m.WatchKeysWithPolicy(fakePools{}, func(string) int { return 3 }, 1e9, nil)
	m.WatchStoreContact(fixedContact(0))
	m.WatchReportQueue(func() int { return 0 })
	m.WatchBudgets(fakeBudgets{}, 1e9)
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range families {
		n := f.GetName()
		names[n] = true
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			names[n+suffix] = true
		}
	}
	// grpc_server_* series are created for every method by
	// InitializeMetrics when the gRPC server is built (server/grpc.go).
	for _, n := range []string{"grpc_server_handled_total", "grpc_server_started_total", "grpc_server_handling_seconds", "grpc_server_handling_seconds_bucket"} {
		names[n] = true
	}
	return names
}

// fakeBudgets is one pool with budgets, as a broker that leases from a
// pool with limits shows it.
type fakeBudgets struct{}

func (fakeBudgets) BudgetPools() []string { return []string{"p"} }

func (fakeBudgets) BudgetTotals(context.Context, string) (BudgetTotals, bool) {
	return BudgetTotals{RequestsLimit: 100, RequestsRemaining: 40, TokensLimit: 1000, TokensRemaining: 400, Reset: time.Now().Add(time.Second)}, true
}

var metricName = regexp.MustCompile(`\b(keybroker_[a-z_]+|grpc_server_[a-z_]+)`)

// notMetrics are names the docs use that look like metrics and are not.
var notMetrics = map[string]bool{"keybroker_client": true} // the Python client's package

// TestEveryDocumentedMetricIsOnTheFirstScrape reads every metric name the
// docs, the alert rules and the dashboard speak of and finds each on a
// fresh broker's first scrape: none appears only after first use.
func TestEveryDocumentedMetricIsOnTheFirstScrape(t *testing.T) {
	known := firstScrape(t)
	files, _ := filepath.Glob("../../docs/*.md")
	files = append(files, "../../README.md", "../../deploy/prometheus/alerts.yaml", "../../deploy/grafana/keybroker.json")
	seen := 0
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range metricName.FindAllString(string(raw), -1) {
			if notMetrics[name] {
				continue
			}
			seen++
			if !known[strings.TrimSuffix(name, "_")] {
				t.Errorf("%s names %s, which a fresh broker does not expose", file, name)
			}
		}
	}
	if seen < 20 {
		t.Fatalf("found only %d metric names in the docs", seen)
	}
}

// TestDashboardQueriesRealMetrics reads the Grafana dashboard and checks
// that every panel queries something and every metric it queries exists.
func TestDashboardQueriesRealMetrics(t *testing.T) {
	raw, err := os.ReadFile("../../deploy/grafana/keybroker.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("keybroker.json: %v", err)
	}
	known := firstScrape(t)
	if len(dash.Panels) < 10 {
		t.Fatalf("the dashboard has %d panels", len(dash.Panels))
	}
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q queries nothing", p.Title)
		}
		for _, tg := range p.Targets {
			names := metricName.FindAllString(tg.Expr, -1)
			if len(names) == 0 {
				t.Errorf("panel %q: %q names no keybroker metric", p.Title, tg.Expr)
			}
			for _, n := range names {
				if !known[n] {
					t.Errorf("panel %q queries %s, which keybroker does not export", p.Title, n)
				}
			}
		}
	}
}

func TestBuildInfoAndMinKeys(t *testing.T) {
	m := New()
	m.SetBuildInfo("v1.0.0", "abc", "go1.26")
	m.WatchKeysWithPolicy(fakePools{}, func(string) int { return 7 }, 1e9, nil)
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range families {
		for _, mt := range f.GetMetric() {
			got[f.GetName()] = mt.String()
		}
	}
	if !strings.Contains(got["keybroker_build_info"], `value:"v1.0.0"`) || !strings.Contains(got["keybroker_pool_min_keys"], "value:7") {
		t.Fatalf("build_info %q, pool_min_keys %q", got["keybroker_build_info"], got["keybroker_pool_min_keys"])
	}
}
