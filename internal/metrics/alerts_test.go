package metrics

import (
	"context"
	"os"
	"regexp"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/keybroker/keybroker/failure"
	"github.com/keybroker/keybroker/internal/store"
)

type fakePools struct{}

func (fakePools) Pools(context.Context) ([]string, error) { return []string{"p"}, nil }
func (fakePools) Counts(context.Context, string) (store.Counts, error) {
	return store.Counts{Total: 1, Active: 1}, nil
}
func (fakePools) Hold(context.Context, string, time.Duration) (store.Hold, error) {
	return store.Hold{}, nil
}

// registered returns the names of every series the registry exposes once
// each metric has been touched, histogram suffixes included.
func registered(t *testing.T) map[string]bool {
	t.Helper()
	m := New()
	m.WatchKeysWithPolicy(fakePools{}, func(string) int { return 3 }, 1e9, nil)
	m.Leased("p")
	m.Reported("p", failure.Verdict{Kind: failure.RateLimited, Reason: "r"}, store.Transition{From: store.Active, To: store.CoolingDown})
	m.redisDuration.WithLabelValues("get").Observe(0.001)
	m.redisErrors.WithLabelValues("get").Inc()
	m.Checked("p", "openai", "valid", 1e6)
	m.WatchStoreContact(fixedContact(0))
	m.WatchReportQueue(func() int { return 0 })
	m.GRPC.unaryFor("/keybroker.v1.KeyBrokerService/GetRandom") // the series a served method has
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
	// grpc_server_handled_total and friends appear once a method is known;
	// their names are fixed by the provider.
	for _, n := range []string{"grpc_server_handled_total", "grpc_server_started_total", "grpc_server_handling_seconds_bucket"} {
		names[n] = true
	}
	return names
}

func TestAlertRulesUseRealMetrics(t *testing.T) {
	raw, err := os.ReadFile("../../deploy/prometheus/alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(raw, &file); err != nil {
		t.Fatalf("alerts.yaml: %v", err)
	}
	known := registered(t)
	metricName := regexp.MustCompile(`\b(keybroker_[a-z_]+|grpc_server_[a-z_]+)`)
	rules := 0
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			rules++
			for _, name := range metricName.FindAllString(r.Expr, -1) {
				if !known[name] {
					t.Errorf("alert %s uses %s, which keybroker does not export", r.Alert, name)
				}
			}
		}
	}
	if rules < 5 {
		t.Fatalf("read %d rules; the file lost its alerts", rules)
	}
}

type fixedContact time.Duration

func (f fixedContact) Since(time.Time) time.Duration { return time.Duration(f) }
