package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/broker"
	"github.com/keybroker/keybroker/internal/config"
	"github.com/keybroker/keybroker/internal/redistest"
	"github.com/keybroker/keybroker/internal/store"
	"github.com/keybroker/keybroker/internal/testkit"
	"github.com/keybroker/keybroker/server"
)

// policyYAML is the pool policy every harness serves. Pools the file does
// not declare get the defaults (OpenAI, short cooldowns); the declared ones
// cover the other providers, one pool per test case that needs one.
const policyYAML = `
defaults:
  provider: openai
  cooldown_default: 10s
  cooldown_max: 2m
  lease_ttl: 30s
pools:
  openai-lease:
    provider: openai
    lease_ttl: 45s
  anthropic-credit: &anthropic
    provider: anthropic
    cooldown_default: 5s
  anthropic-overloaded: *anthropic
  gemini-invalid: &gemini
    provider: gemini
    cooldown_max: 1m
  gemini-daily: *gemini
  gemini-minute: *gemini
  cd-suspect:
    validator: {kind: openai}
  restore-me:
    max_removals: 100%
  relay-quota:
    provider: openai-compatible
    base_url: https://relay.example.test
    cooldown_default: 20s
`

// Policy values of policyYAML that tests compute expectations from.
const (
	defaultCooldown = 10 * time.Second
	defaultMax      = 2 * time.Minute
	defaultLeaseTTL = 30 * time.Second
	openAILeaseTTL  = 45 * time.Second // pool openai-lease
	leaseGrace      = 5 * time.Minute  // server.leaseGrace
)

// clockStart is where every harness clock starts: 2030-01-15 19:00 in Los
// Angeles (PST, UTC-8) but already 2030-01-16 in UTC, so a daily reset
// computed in the wrong zone shows. It is a whole millisecond, as Redis
// stores times.
var clockStart = time.Date(2030, 1, 16, 3, 0, 0, 0, time.UTC)

// nextPacificMidnight is Gemini's daily reset after clockStart:
// 2030-01-16 00:00 PST.
var nextPacificMidnight = time.Date(2030, 1, 16, 8, 0, 0, 0, time.UTC)

// rpcTimeout bounds every call. It is generous on purpose: a call that
// hangs (say on an unreachable Redis) shows up as DEADLINE_EXCEEDED rather
// than passing.
const rpcTimeout = 10 * time.Second

// harness is one broker served over real gRPC on loopback TCP, backed by a
// real redis-server that belongs to the test.
type harness struct {
	client pb.KeyBrokerServiceClient
	health healthpb.HealthClient
	conn   *grpc.ClientConn
	store  *store.Store
	redis  *redistest.Deployment
	clock  *testkit.Clock
	logs   *logBuffer

	svc      *server.Service
	hs       *health.Server
	log      *slog.Logger
	policies *config.Config
}

// harnessOption adjusts how newHarness builds the service.
type harnessOption func(*harnessConfig)

type harnessConfig struct {
	selector func(*store.Store) server.Selector
}

// withSelector serves GetRandom from the selector that sel builds over the
// harness's store.
func withSelector(sel func(*store.Store) server.Selector) harnessOption {
	return func(c *harnessConfig) { c.selector = sel }
}

// newHarness starts redis-server, the broker and a client, all stopped at
// cleanup. One per test function: subtests share it and use their own
// pool names.
func newHarness(t *testing.T, opts ...harnessOption) *harness {
	t.Helper()
	var hc harnessConfig
	for _, o := range opts {
		o(&hc)
	}

	srv := redistest.Deploy(t)
	clock := testkit.NewClock(clockStart)
	policies, err := config.Parse("policy.yaml", []byte(policyYAML))
	if err != nil {
		t.Fatalf("policy: %v", err)
	}
	logs := &logBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	// The broker as `keybroker serve` builds it, GetRandom served by the
	// store (or the test's selector) so that each call reads Redis.
	bopts := []broker.Option{broker.WithClock(clock.Now)}
	if hc.selector != nil {
		bopts = append(bopts, broker.WithSelector(hc.selector))
	}
	b, err := broker.New(t.Context(), broker.Config{
		Redis:     store.RedisConfig{Addrs: srv.Addrs, MasterName: srv.MasterName},
		Policies:  policies,
		Logger:    logger,
		Listen:    "127.0.0.1:0",
		Selection: broker.SelectRedis,
	}, bopts...)
	if err != nil {
		t.Fatalf("broker: %v", err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- b.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		if err := <-ran; err != nil {
			t.Errorf("broker.Run: %v", err)
		}
	})
	st := b.Store()

	conn, err := grpc.NewClient(b.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("grpc client: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })

	return &harness{
		client:   pb.NewKeyBrokerServiceClient(conn),
		health:   healthpb.NewHealthClient(conn),
		conn:     conn,
		store:    st,
		redis:    srv,
		clock:    clock,
		logs:     logs,
		svc:      b.Service(),
		hs:       b.Health(),
		log:      logger,
		policies: policies,
	}
}

// ctx returns a context for one call, bounded by rpcTimeout.
func (h *harness) ctx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), rpcTimeout)
	t.Cleanup(cancel)
	return ctx
}

// add puts secrets into pool and returns their key ids in order.
func (h *harness) add(t *testing.T, pool string, secrets ...string) []string {
	t.Helper()
	resp, err := h.client.Add(h.ctx(t), &pb.AddRequest{Pool: pool, Secrets: secrets})
	if err != nil {
		t.Fatalf("Add(%s): %v", pool, err)
	}
	if len(resp.GetKeyIds()) != len(secrets) {
		t.Fatalf("Add(%s): %d key ids for %d secrets", pool, len(resp.GetKeyIds()), len(secrets))
	}
	return resp.GetKeyIds()
}

// keys returns every key of pool (one page of up to 1000), secrets
// revealed, by key id.
func (h *harness) keys(t *testing.T, pool string) map[string]*pb.Key {
	t.Helper()
	resp, err := h.client.GetAll(h.ctx(t), &pb.GetAllRequest{Pool: pool, PageSize: 1000, Reveal: true})
	if err != nil {
		t.Fatalf("GetAll(%s): %v", pool, err)
	}
	if resp.GetNextPageToken() != "" {
		t.Fatalf("GetAll(%s): more than one page", pool)
	}
	out := make(map[string]*pb.Key, len(resp.GetKeys()))
	for _, k := range resp.GetKeys() {
		out[k.GetKeyId()] = k
	}
	return out
}

// key returns one key of pool as GetAll shows it.
func (h *harness) key(t *testing.T, pool, id string) *pb.Key {
	t.Helper()
	k, ok := h.keys(t, pool)[id]
	if !ok {
		t.Fatalf("key %s is not in pool %s", id, pool)
	}
	return k
}

// report sends a failure report by key id and fails the test on error.
func (h *harness) report(t *testing.T, req *pb.ReportFailureRequest) *pb.ReportFailureResponse {
	t.Helper()
	resp, err := h.client.ReportFailure(h.ctx(t), req)
	if err != nil {
		t.Fatalf("ReportFailure(%s): %v", req.GetPool(), err)
	}
	return resp
}

// logBuffer captures the service's JSON log, which the gRPC server writes
// from its own goroutines.
type logBuffer struct{ testkit.Buffer }

// Lines decodes every JSON log line so far.
func (b *logBuffer) Lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(b.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line is not JSON: %v: %s", err, sc.Text())
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read log: %v", err)
	}
	return out
}

// details is a status error taken apart.
type details struct {
	st    *status.Status
	info  *errdetails.ErrorInfo
	retry *errdetails.RetryInfo
	bad   *errdetails.BadRequest
}

// detailsOf returns the status of err and the details it carries; it fails
// the test if err is not a status error or carries a detail it cannot read.
func detailsOf(t *testing.T, err error) details {
	t.Helper()
	if err == nil {
		t.Fatal("call succeeded, want an error")
	}
	st, ok := status.FromError(err)
	if !ok {
		t.Fatalf("not a status error: %v", err)
	}
	d := details{st: st}
	for _, x := range st.Details() {
		switch v := x.(type) {
		case *errdetails.ErrorInfo:
			d.info = v
		case *errdetails.RetryInfo:
			d.retry = v
		case *errdetails.BadRequest:
			d.bad = v
		case error:
			t.Fatalf("undecodable detail: %v", v)
		default:
			t.Fatalf("unexpected detail %T", v)
		}
	}
	return d
}

// wantReason checks that err has code and an ErrorInfo in the keybroker
// domain with reason, and returns its details.
func wantReason(t *testing.T, err error, code codes.Code, reason pb.ErrorReason) details {
	t.Helper()
	d := detailsOf(t, err)
	if d.st.Code() != code {
		t.Fatalf("code %s (%q), want %s", d.st.Code(), d.st.Message(), code)
	}
	if d.info == nil {
		t.Fatalf("%s %q carries no ErrorInfo", code, d.st.Message())
	}
	if d.info.GetDomain() != server.ErrorDomain || server.ParseReason(d.info.GetReason()) != reason {
		t.Fatalf("ErrorInfo %s/%s, want %s/%s", d.info.GetDomain(), d.info.GetReason(), server.ErrorDomain, server.ReasonString(reason))
	}
	return d
}
