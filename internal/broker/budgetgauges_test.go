package broker_test

import (
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/broker"
	"github.com/keybroker/keybroker/internal/redistest"
	"github.com/keybroker/keybroker/internal/store"
	"github.com/keybroker/keybroker/internal/testkit"
)

// /metrics shows a budgeted pool's limit and what is left of it in the
// current window, summed over its active keys, per pool and never per key
// id; a lease spends from it.
func TestMetricsShowPoolBudgets(t *testing.T) {
	rs := redistest.Start(t)
	// Two keys of 60 requests and 6000 tokens per 1-minute window.
	b := startHTTP(t, broker.Config{
		Redis:    store.RedisConfig{Addrs: []string{rs.Addr}},
		Policies: policyOf(t, "pools:\n  b:\n    limits:\n      requests_per_minute: 60\n      tokens_per_minute: 6000\n"),
	})
	c := pb.NewKeyBrokerServiceClient(dial(t, b.Addr()))
	secrets := []string{"sk-budget-gauge-0123456789", "sk-budget-gauge-9876543210"}
	if _, err := c.Add(callCtx(t), &pb.AddRequest{Pool: "b", Secrets: secrets}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, wait, 10*time.Millisecond, "a lease", func() bool {
		_, err := c.GetRandom(callCtx(t), &pb.GetRandomRequest{Pool: "b", EstimatedTokens: 100})
		return err == nil
	})
	var text string
	testkit.Eventually(t, wait, 50*time.Millisecond, "both keys in the budget gauges", func() bool {
		text = scrape(t, b.MetricsAddr())
		return gauge(text, `keybroker_budget_limit{limit="requests",pool="b"}`) == 120
	})
	if got := gauge(text, `keybroker_budget_limit{limit="tokens",pool="b"}`); got != 12000 {
		t.Errorf("token limit = %v; want 12000 (two keys of 6000)", got)
	}
	// The lease took a slice of the window: less than the whole is left.
	if left := gauge(text, `keybroker_budget_remaining{limit="requests",pool="b"}`); left < 0 || left >= 120 {
		t.Errorf("requests remaining = %v; want less than 120 after a lease", left)
	}
	if r := gauge(text, `keybroker_budget_reset_seconds{pool="b"}`); r <= 0 || r > 60 {
		t.Errorf("reset in %v s; want within the 1-minute window", r)
	}
	for _, s := range secrets {
		if strings.Contains(text, s) {
			t.Fatal("/metrics shows a secret")
		}
	}
	if regexp.MustCompile(`keybroker_budget_\w+\{[^}]*key`).MatchString(text) {
		t.Error("a budget gauge is labelled by key")
	}
}

func scrape(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

// gauge reads one series' value from a scrape, -1 when absent.
func gauge(text, series string) float64 {
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}
