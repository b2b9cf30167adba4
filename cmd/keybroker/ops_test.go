package main

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/redistest"
	"github.com/keybroker/keybroker/internal/testkit"
)

// scrape returns the metrics page as series → value.
func scrape(t *testing.T, addr string) (map[string]float64, string) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndex(line, " ")
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err == nil {
			out[line[:i]] = v
		}
	}
	return out, string(body)
}

func TestMetricsMoveWithTheScenario(t *testing.T) {
	rs := redistest.Start(t)
	metricsAddr := freeAddr(t)
	b := startBroker(t, "--redis", rs.Addr, "--metrics-addr", metricsAddr)
	ctx := ctxT(t)
	secrets := []string{"sk-METRICS-secret-000000001", "sk-METRICS-secret-000000002", "sk-METRICS-secret-000000003"}

	before, _ := scrape(t, metricsAddr)
	added, err := b.client.Add(ctx, &pb.AddRequest{Pool: "mp", Secrets: secrets})
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if _, err := b.client.GetRandom(ctx, &pb.GetRandomRequest{Pool: "mp"}); err != nil {
			t.Fatal(err)
		}
	}
	report := func(id string, status int32, code string) {
		if _, err := b.client.ReportFailure(ctx, &pb.ReportFailureRequest{Pool: "mp", Key: &pb.ReportFailureRequest_KeyId{KeyId: id},
			HttpStatus: status, ErrorCode: code, RetryAfter: durationpb.New(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	report(added.GetKeyIds()[0], 429, "rate_limit_exceeded")
	report(added.GetKeyIds()[1], 401, "invalid_api_key")
	report(added.GetKeyIds()[2], 503, "")
	if _, err := b.client.GetRandom(ctx, &pb.GetRandomRequest{Pool: "not a pool"}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("GetRandom on an invalid pool name = %v, want INVALID_ARGUMENT (the error series below counts it)", err)
	}
	after, page := scrape(t, metricsAddr)

	delta := func(series string) float64 { return after[series] - before[series] }
	for series, want := range map[string]float64{
		`keybroker_leases_total{pool="mp"}`:                                                                                                             10,
		`keybroker_failure_reports_total{kind="rate_limited",pool="mp"}`:                                                                                1,
		`keybroker_failure_reports_total{kind="invalid_key",pool="mp"}`:                                                                                 1,
		`keybroker_failure_reports_total{kind="transient",pool="mp"}`:                                                                                   1,
		`keybroker_state_transitions_total{from="active",kind="rate_limited",pool="mp",reason="rate_limit_exceeded",to="cooling_down"}`:                 1,
		`keybroker_state_transitions_total{from="active",kind="invalid_key",pool="mp",reason="invalid_api_key",to="suspect"}`:                           1,
		`keybroker_state_transitions_total{from="none",kind="",pool="mp",reason="added",to="active"}`:                                                   3,
		`grpc_server_handled_total{grpc_code="OK",grpc_method="GetRandom",grpc_service="keybroker.v1.KeyBrokerService",grpc_type="unary"}`:              10,
		`grpc_server_handled_total{grpc_code="InvalidArgument",grpc_method="GetRandom",grpc_service="keybroker.v1.KeyBrokerService",grpc_type="unary"}`: 1,
	} {
		if got := delta(series); got != want {
			t.Errorf("%s moved by %v, want %v", series, got, want)
		}
	}
	for series, want := range map[string]float64{
		`keybroker_keys{pool="mp",state="active"}`:       1,
		`keybroker_keys{pool="mp",state="cooling_down"}`: 1,
		`keybroker_keys{pool="mp",state="suspect"}`:      1,
		`keybroker_keys{pool="mp",state="disabled"}`:     0,
		`keybroker_keys_scrape_success`:                  1,
	} {
		if got, ok := after[series]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", series, got, ok, want)
		}
	}
	if delta(`keybroker_redis_command_duration_seconds_count{command="evalsha"}`) < 4 {
		t.Errorf("Redis command latency not recorded:\n%s", grep(page, "redis_command"))
	}
	if strings.Contains(page, "sk-METRICS") || strings.Contains(page, added.GetKeyIds()[0]) {
		t.Error("the metrics page shows a secret or a key id")
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get("http://" + metricsAddr + path)
		if err != nil || resp.StatusCode != 200 {
			t.Errorf("%s = %v, %v", path, resp.StatusCode, err)
		}
	}
}

func grep(text, sub string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestConfigReloadChangesBehaviour edits the policy file under a running
// broker and sends SIGHUP: the next report uses the new cooldown.
func TestConfigReloadChangesBehaviour(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "pools.yaml")
	writeFile(t, cfg, "defaults:\n  cooldown_default: 5s\n")
	b := startBroker(t, "--config", cfg, "--config-reload-interval", "1h") // only SIGHUP reloads
	ctx := ctxT(t)
	added, err := b.client.Add(ctx, &pb.AddRequest{Pool: "r", Secrets: []string{"sk-reload-00000000001", "sk-reload-00000000002"}})
	if err != nil {
		t.Fatal(err)
	}
	cooldown := func(id string) time.Duration {
		start := time.Now()
		rep, err := b.client.ReportFailure(ctx, &pb.ReportFailureRequest{Pool: "r", Key: &pb.ReportFailureRequest_KeyId{KeyId: id}, HttpStatus: 429})
		if err != nil {
			t.Fatal(err)
		}
		return rep.GetStateUntil().AsTime().Sub(start).Round(time.Second)
	}
	if got := cooldown(added.GetKeyIds()[0]); got != 5*time.Second {
		t.Fatalf("cooldown before reload = %v, want 5s", got)
	}
	writeFile(t, cfg, "defaults:\n  cooldown_default: 2m\n")
	if err := b.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testkit.EventuallyWhy(t, 20*time.Second, 10*time.Millisecond, "the broker reloads its config after SIGHUP", func() (bool, string) {
		logs := b.out.String()
		return strings.Contains(logs, "config reloaded"), "\n" + logs
	})
	if got := cooldown(added.GetKeyIds()[1]); got != 2*time.Minute {
		t.Fatalf("cooldown after reload = %v, want 2m", got)
	}
}

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good.yaml"), filepath.Join(dir, "bad.yaml")
	writeFile(t, good, "pools:\n  a:\n    provider: anthropic\n")
	writeFile(t, bad, "pools:\n  a:\n    provider: anthropic\n    lease_ttl: forever\n")
	if out, code := runBinary(t, nil, "config", "check", good); code != 0 || !strings.Contains(out, "ok (1 pools declared)") {
		t.Fatalf("check good: %d %s", code, out)
	}
	if out, code := runBinary(t, nil, "config", "check", good, bad); code != 1 || !strings.Contains(out, "bad.yaml:4") {
		t.Fatalf("check bad: %d %s", code, out)
	}
	if _, code := runBinary(t, nil, "config"); code != 2 {
		t.Fatalf("config without check: %d", code)
	}
}

// The worker's checks show on /metrics by outcome, against a fake OpenAI.
func TestValidatorMetrics(t *testing.T) {
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "Bearer sk-metrics-valid-0000000001" {
			_, _ = w.Write([]byte(`{"object":"list","data":[]}`))
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer fake.Close()
	cfg := filepath.Join(t.TempDir(), "pools.yaml")
	writeFile(t, cfg, "pools:\n  v:\n    provider: openai\n    base_url: "+fake.URL+"\n    validator: {kind: openai, interval: 1h}\n")
	metricsAddr := freeAddr(t)
	b := startBroker(t, "--config", cfg, "--metrics-addr", metricsAddr, "--worker-poll", "20ms")
	if _, err := b.client.Add(ctxT(t), &pb.AddRequest{Pool: "v", Secrets: []string{"sk-metrics-valid-0000000001", "sk-metrics-flaky-0000000002"}}); err != nil {
		t.Fatal(err)
	}
	testkit.EventuallyWhy(t, 20*time.Second, 20*time.Millisecond, "the validator checks show in the metrics", func() (bool, string) {
		m, page := scrape(t, metricsAddr)
		return m[`keybroker_validator_checks_total{outcome="valid",pool="v",validator="openai"}`] >= 1 &&
			m[`keybroker_validator_checks_total{outcome="fault",pool="v",validator="openai"}`] >= 1 &&
			m[`keybroker_validator_check_duration_seconds_count{pool="v",validator="openai"}`] >= 2, "\n" + grep(page, "validator_check")
	})
}
