package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/redistest"
	"github.com/keybroker/keybroker/internal/testkit"
)

// binary builds keybroker once per test run.
var binary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "keybroker-e2e")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "keybroker")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, out)
	}
	return bin, nil
})

// syncBuffer collects a process's output safely while it runs.
type syncBuffer = testkit.Buffer

type brokerProc struct {
	cmd    *exec.Cmd
	out    *syncBuffer
	addr   string
	conn   *grpc.ClientConn
	client pb.KeyBrokerServiceClient
	health healthpb.HealthClient
	exited chan error
}

// startBroker runs `keybroker serve` with args on a free loopback port and
// waits until it reports SERVING.
func startBroker(t *testing.T, args ...string) *brokerProc {
	t.Helper()
	return startBrokerEnv(t, nil, args...)
}

// startBrokerEnv is startBroker with extra environment variables.
func startBrokerEnv(t *testing.T, env []string, args ...string) *brokerProc {
	t.Helper()
	return startBrokerAt(t, freeAddr(t), env, args...)
}

// startBrokerAt is startBrokerEnv on a given address, so a test can
// restart a broker where its clients expect it.
func startBrokerAt(t *testing.T, addr string, env []string, args ...string) *brokerProc {
	t.Helper()
	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	b := &brokerProc{out: &syncBuffer{}, addr: addr, exited: make(chan error, 1)}
	b.cmd = exec.Command(bin, append([]string{"serve", "--listen", addr, "--health-interval", "100ms", "--log-format", "json"}, args...)...)
	b.cmd.Stdout, b.cmd.Stderr = b.out, b.out
	b.cmd.Env = append(os.Environ(), env...)
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { b.exited <- b.cmd.Wait() }()
	t.Cleanup(func() {
		_ = b.cmd.Process.Kill()
		<-b.exited //nolint:errcheck // drains "signal: killed" (`_ =` trips S1005)
	})
	b.conn, err = grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.conn.Close() })
	b.client, b.health = pb.NewKeyBrokerServiceClient(b.conn), healthpb.NewHealthClient(b.conn)
	b.waitHealth(t, healthpb.HealthCheckResponse_SERVING)
	return b
}

func (b *brokerProc) waitHealth(t *testing.T, want healthpb.HealthCheckResponse_ServingStatus) {
	t.Helper()
	testkit.EventuallyWhy(t, 30*time.Second, 50*time.Millisecond, "the broker reports "+want.String(), func() (bool, string) {
		select {
		case err := <-b.exited:
			t.Fatalf("broker exited (%v) before %s:\n%s", err, want, b.out)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		resp, err := b.health.Check(ctx, &healthpb.HealthCheckRequest{})
		cancel()
		return err == nil && resp.GetStatus() == want, fmt.Sprintf("last: %s %v\n%s", resp.GetStatus(), err, b.out)
	})
}

// stop sends SIGTERM and returns the exit error.
func (b *brokerProc) stop(t *testing.T) error {
	t.Helper()
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-b.exited:
		b.exited <- err // for cleanup
		return err
	case <-time.After(30 * time.Second):
		t.Fatalf("broker did not stop on SIGTERM:\n%s", b.out)
		return nil
	}
}

// writeFile writes a test's config or keys file, failing the test if it
// cannot: a missing file would test a different startup path.
func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestServeEmbeddedEndToEnd is the README's walkthrough: start on the
// embedded store, add keys, lease them, report a 429, watch the key cool
// down and come back, list, and stop cleanly without a secret in the log.
func TestServeEmbeddedEndToEnd(t *testing.T) {
	b := startBroker(t, "--wake-interval", "100ms")
	ctx := ctxT(t)
	secrets := []string{"sk-e2e-secret-AAAAAAAAAAAAAAAA", "sk-e2e-secret-BBBBBBBBBBBBBBBB"}
	if !strings.Contains(b.out.String(), "EMBEDDED") {
		t.Errorf("embedded mode is not announced:\n%s", b.out)
	}

	add, err := b.client.Add(ctx, &pb.AddRequest{Pool: "openai", Secrets: secrets})
	if err != nil || add.GetAddedCount() != 2 {
		t.Fatalf("Add = %v, %v", add, err)
	}
	leased := map[string]bool{}
	for range 60 {
		r, err := b.client.GetRandom(ctx, &pb.GetRandomRequest{Pool: "openai"})
		if err != nil {
			t.Fatal(err)
		}
		leased[r.GetSecret()] = true
	}
	if len(leased) != 2 {
		t.Fatalf("60 leases returned %d distinct keys, want 2", len(leased))
	}

	for _, id := range add.GetKeyIds() {
		rep, err := b.client.ReportFailure(ctx, &pb.ReportFailureRequest{
			Pool: "openai", Key: &pb.ReportFailureRequest_KeyId{KeyId: id},
			HttpStatus: 429, ErrorType: "requests", ErrorCode: "rate_limit_exceeded",
			RetryAfter: durationpb.New(time.Second),
		})
		if err != nil || rep.GetState() != pb.KeyState_KEY_STATE_COOLING_DOWN {
			t.Fatalf("ReportFailure = %v, %v", rep, err)
		}
	}
	_, err = b.client.GetRandom(ctx, &pb.GetRandomRequest{Pool: "openai"})
	st := status.Convert(err)
	if st.Code() != codes.Unavailable || retryDelay(st) <= 0 || retryDelay(st) > time.Second {
		t.Fatalf("GetRandom while cooling = %v (retry %v), want UNAVAILABLE with a RetryInfo ≤ 1s", err, retryDelay(st))
	}

	testkit.EventuallyWhy(t, 10*time.Second, 50*time.Millisecond, "the keys come back after their cooldown", func() (bool, string) {
		all, err := b.client.GetAll(ctx, &pb.GetAllRequest{Pool: "openai"})
		if err != nil {
			t.Fatal(err)
		}
		return all.GetCounts().GetActive() == 2, fmt.Sprint(all.GetCounts())
	})

	if err := b.stop(t); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, b.out)
	}
	logs := b.out.String()
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Fatalf("log contains a secret:\n%s", logs)
		}
	}
	if !strings.Contains(logs, `"msg":"stopped"`) {
		t.Errorf("no clean stop in the log:\n%s", logs)
	}
}

func retryDelay(st *status.Status) time.Duration {
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			return ri.GetRetryDelay().AsDuration()
		}
	}
	return 0
}

// TestServeOnRedisKeepsKeysAcrossRestarts seeds a real Redis from a keys
// file, restarts the broker, and finds the keys and their ids unchanged.
func TestServeOnRedisKeepsKeysAcrossRestarts(t *testing.T) {
	rs := redistest.Start(t)
	keys := filepath.Join(t.TempDir(), "keys.txt")
	content := "# seed\nsk-seed-main-1111111111111111\nanthropic\tsk-ant-seed-2222222222222222\n"
	if err := os.WriteFile(keys, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"--redis", rs.Addr, "--keys-file", keys, "--pool", "main"}
	b := startBroker(t, args...)
	ctx := ctxT(t)
	first, err := b.client.GetRandom(ctx, &pb.GetRandomRequest{Pool: "anthropic"})
	if err != nil || first.GetSecret() != "sk-ant-seed-2222222222222222" {
		t.Fatalf("GetRandom = %v, %v", first, err)
	}
	if err := b.stop(t); err != nil {
		t.Fatal(err)
	}

	b = startBroker(t, args...) // seeding again is idempotent
	if !strings.Contains(b.out.String(), `"added":0,"present":1`) {
		t.Errorf("second seed did not find the keys present:\n%s", b.out)
	}
	again, err := b.client.GetRandom(ctx, &pb.GetRandomRequest{Pool: "anthropic"})
	if err != nil || again.GetKeyId() != first.GetKeyId() {
		t.Fatalf("after restart GetRandom = %v, %v; want key id %s", again, err, first.GetKeyId())
	}
	all, err := b.client.GetAll(ctx, &pb.GetAllRequest{Pool: "main"})
	if err != nil || all.GetCounts().GetTotal() != 1 {
		t.Fatalf("GetAll main = %v, %v", all, err)
	}
	if err := b.stop(t); err != nil {
		t.Fatal(err)
	}
}

func TestServeOnUnixSocket(t *testing.T) {
	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "kb.sock")
	cmd := exec.Command(bin, "serve", "--listen", "unix:"+sock)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := pb.NewKeyBrokerServiceClient(conn)
	testkit.EventuallyWhy(t, 10*time.Second, 50*time.Millisecond, "the broker answers on "+sock, func() (bool, string) {
		_, err := c.Add(ctxT(t), &pb.AddRequest{Pool: "p", Secrets: []string{"sk-unix-socket-test-1"}})
		return err == nil, fmt.Sprintf("%v\n%s", err, out)
	})
}

func TestServeRejectsBadStartUp(t *testing.T) {
	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	badConfig := filepath.Join(t.TempDir(), "pools.yaml")
	writeFile(t, badConfig, "pools:\n  main:\n    cooldown_defualt: 5s\n")
	badKeys := filepath.Join(t.TempDir(), "keys.txt")
	writeFile(t, badKeys, "sk-bad-secret-1\n") // no pool for it
	tests := []struct {
		name string
		args []string
		env  string
		code int
		want string
	}{
		{"unknown field", []string{"--config", badConfig}, "", 1, "pools.yaml:3"},
		{"missing config", []string{"--config", "/nonexistent/pools.yaml"}, "", 1, "no such file"},
		{"keys without pool", []string{"--keys-file", badKeys}, "", 1, "line 1: no pool"},
		{"bad flag", []string{"--no-such-flag"}, "", 2, "no-such-flag"},
		{"bad env", nil, "KEYBROKER_SHUTDOWN_TIMEOUT=soon", 2, "KEYBROKER_SHUTDOWN_TIMEOUT"},
		{"bad log level", []string{"--log-level", "loud"}, "", 2, "--log-level"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(bin, append([]string{"serve", "--listen", freeAddr(t)}, tt.args...)...)
			cmd.Env = append(os.Environ(), tt.env)
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != tt.code {
				t.Fatalf("exit = %v, want code %d\n%s", err, tt.code, out)
			}
			if !strings.Contains(string(out), tt.want) {
				t.Fatalf("output does not mention %q:\n%s", tt.want, out)
			}
			if strings.Contains(string(out), "sk-bad-secret-1") {
				t.Fatalf("output shows a secret:\n%s", out)
			}
		})
	}
}

// dialTo connects the broker's clients to addr.
func (b *brokerProc) dialTo(t *testing.T, addr string) {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	b.addr, b.conn = addr, conn
	b.client, b.health = pb.NewKeyBrokerServiceClient(conn), healthpb.NewHealthClient(conn)
}
