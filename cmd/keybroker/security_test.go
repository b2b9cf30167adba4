package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/durationpb"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/redistest"
	"github.com/keybroker/keybroker/internal/testkit"
	"github.com/keybroker/keybroker/internal/testpki"
)

// runBinary runs keybroker with args and env and returns its output and
// exit code.
func runBinary(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

func keyFile(t *testing.T, lines ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "data.keys")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func dataKeyLine(id string) string {
	raw := make([]byte, 32)
	rand.Read(raw)
	return id + "=" + base64.StdEncoding.EncodeToString(raw)
}

func TestServeRefusesToExposeAnOpenBroker(t *testing.T) {
	out, code := runBinary(t, nil, "serve", "--listen", "0.0.0.0:0")
	if code != 1 || !strings.Contains(out, "refusing to listen on 0.0.0.0:0 without authentication") {
		t.Fatalf("open broker on all interfaces: exit %d\n%s", code, out)
	}
	out, code = runBinary(t, nil, "serve", "--listen", ":0")
	if code != 1 || !strings.Contains(out, "refusing") {
		t.Fatalf("open broker on :0: exit %d\n%s", code, out)
	}
	// With credentials, or explicitly --insecure, it listens (on all
	// interfaces, so reach it through loopback).
	port := strings.TrimPrefix(freeAddr(t), "127.0.0.1:")
	for _, tc := range []struct {
		env  []string
		args []string
	}{
		{[]string{"KEYBROKER_ADMIN_TOKEN=admin-token-0123456789"}, nil},
		{nil, []string{"--insecure"}},
	} {
		bin, _ := binary()
		cmd := exec.Command(bin, append([]string{"serve", "--listen", "0.0.0.0:" + port}, tc.args...)...)
		cmd.Env = append(os.Environ(), tc.env...)
		buf := &syncBuffer{}
		cmd.Stdout, cmd.Stderr = buf, buf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		b := &brokerProc{cmd: cmd, out: buf, exited: make(chan error, 1)}
		go func() { b.exited <- cmd.Wait() }()
		b.dialTo(t, "127.0.0.1:"+port)
		b.waitHealth(t, 1) // SERVING
		if err := b.stop(t); err != nil {
			t.Fatalf("stop: %v\n%s", err, buf)
		}
	}
}

func TestUnixSocketPermissions(t *testing.T) {
	for mode, want := range map[string]os.FileMode{"": 0o660, "0600": 0o600} {
		sock := filepath.Join(t.TempDir(), "kb.sock")
		args := []string{"serve", "--listen", "unix:" + sock}
		if mode != "" {
			args = append(args, "--unix-socket-mode", mode)
		}
		bin, _ := binary()
		cmd := exec.Command(bin, args...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill() }) // if the wait below fails
		var fi os.FileInfo
		testkit.EventuallyWhy(t, 10*time.Second, 20*time.Millisecond, "the socket appears", func() (bool, string) {
			var err error
			fi, err = os.Stat(sock)
			return err == nil, fmt.Sprint(err)
		})
		_ = cmd.Process.Kill()
		_ = cmd.Wait() // "signal: killed" expected
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("--unix-socket-mode %q: socket mode %#o, want %#o", mode, got, want)
		}
	}
}

// TestEncryptionLifecycle turns encryption on for a Redis that already
// holds plaintext keys, rekeys it, refuses to start without the key, then
// rotates to a new data key and retires the old one.
func TestEncryptionLifecycle(t *testing.T) {
	rs := redistest.Start(t)
	raw := rs.Client()
	ctx := ctxT(t)
	secrets := []string{"sk-LIFECYCLE-plain-000000001", "sk-LIFECYCLE-plain-000000002"}

	b := startBroker(t, "--redis", rs.Addr)
	added, err := b.client.Add(ctx, &pb.AddRequest{Pool: "p", Secrets: secrets})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.stop(t); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, b.out)
	}
	if !strings.Contains(redistest.Dump(t, raw), "LIFECYCLE") {
		t.Fatal("test premise: secrets are plaintext before encryption is turned on")
	}

	k1 := dataKeyLine("k1")
	k1File := keyFile(t, k1)
	// With a data key, plaintext in Redis is refused (anyone who can write
	// to Redis could have put it there) until the explicit migration.
	out, code := runBinary(t, nil, "serve", "--listen", freeAddr(t), "--redis", rs.Addr, "--encryption-key-file", k1File)
	if code != 1 || !strings.Contains(out, "rekey --seal-plaintext") {
		t.Fatalf("serve with a data key on plaintext data: exit %d\n%s", code, out)
	}
	out, code = runBinary(t, nil, "rekey", "--redis", rs.Addr, "--encryption-key-file", k1File)
	if code != 1 || !strings.Contains(out, "--seal-plaintext") {
		t.Fatalf("rekey of plaintext without --seal-plaintext: exit %d\n%s", code, out)
	}
	out, code = runBinary(t, nil, "rekey", "--redis", rs.Addr, "--encryption-key-file", k1File, "--seal-plaintext")
	if code != 0 || !strings.Contains(out, "pool p: 2 keys, 2 resealed with k1") {
		t.Fatalf("rekey: exit %d\n%s", code, out)
	}
	if strings.Contains(redistest.Dump(t, raw), "LIFECYCLE") {
		t.Fatal("plaintext secret left in Redis after rekey")
	}

	out, code = runBinary(t, nil, "serve", "--listen", freeAddr(t), "--redis", rs.Addr)
	if code != 1 || !strings.Contains(out, "holds encrypted keybroker data") {
		t.Fatalf("start without the data key: exit %d\n%s", code, out)
	}
	out, code = runBinary(t, nil, "serve", "--listen", freeAddr(t), "--redis", rs.Addr, "--encryption-key-file", keyFile(t, dataKeyLine("k1")))
	if code != 1 || !strings.Contains(out, "cannot open") {
		t.Fatalf("start with a wrong data key: exit %d\n%s", code, out)
	}

	k2 := dataKeyLine("k2")
	b = startBrokerEnv(t, []string{"KEYBROKER_ENCRYPTION_KEYS=" + k2 + "," + k1}, "--redis", rs.Addr)
	got, err := b.client.GetRandom(ctx, &pb.GetRandomRequest{Pool: "p"})
	if err != nil || !strings.HasPrefix(got.GetSecret(), "sk-LIFECYCLE-plain-") {
		t.Fatalf("GetRandom after rotation = %v, %v", got, err)
	}
	if got.GetKeyId() != added.GetKeyIds()[0] && got.GetKeyId() != added.GetKeyIds()[1] {
		t.Fatalf("key ids changed with encryption: %s not in %v", got.GetKeyId(), added.GetKeyIds())
	}
	if err := b.stop(t); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, b.out)
	}
	out, code = runBinary(t, []string{"KEYBROKER_ENCRYPTION_KEYS=" + k2 + "," + k1}, "rekey", "--redis", rs.Addr, "--pools", "p")
	if code != 0 || !strings.Contains(out, "2 resealed with k2") {
		t.Fatalf("rotation rekey: exit %d\n%s", code, out)
	}
	b = startBroker(t, "--redis", rs.Addr, "--encryption-key-file", keyFile(t, k2)) // k1 retired
	if _, err := b.client.GetAll(ctx, &pb.GetAllRequest{Pool: "p", Reveal: true}); err != nil {
		t.Fatalf("after retiring k1: %v", err)
	}
}

// TestNothingLeaks runs every RPC, failures included, against a broker with
// encryption and authentication at its most verbose log level, and looks
// for any secret or token in the log, in every error the callers saw, on
// the metrics page, and in every byte stored in Redis.
func TestNothingLeaks(t *testing.T) {
	rs := redistest.Start(t)
	const (
		adminTok  = "LEAKCHECK-admin-token-0001"
		clientTok = "LEAKCHECK-client-token-002"
	)
	metricsAddr := freeAddr(t)
	b := startBrokerEnv(t,
		[]string{"KEYBROKER_ADMIN_TOKEN=" + adminTok, "KEYBROKER_CLIENT_TOKEN=" + clientTok, "KEYBROKER_ENCRYPTION_KEYS=" + dataKeyLine("k1")},
		"--redis", rs.Addr, "--log-level", "debug", "--metrics-addr", metricsAddr)
	as := func(tok string) context.Context {
		return metadata.AppendToOutgoingContext(ctxT(t), "authorization", "Bearer "+tok)
	}
	secrets := []string{"sk-LEAKCHECK-aaaaaaaaaaaa01", "sk-LEAKCHECK-bbbbbbbbbbbb02", "sk-LEAKCHECK-cccccccccccc03", "sk-LEAKCHECK-dddddddddddd04"}
	var errs []string
	note := func(err error) {
		if err != nil {
			errs = append(errs, err.Error())
		}
	}

	added, err := b.client.Add(as(adminTok), &pb.AddRequest{Pool: "p", Secrets: secrets})
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]string{{"sk-LEAKCHECK bad inner space"}, {"   "}, {strings.Repeat("sk-LEAKCHECK-long", 300)}} {
		_, err := b.client.Add(as(adminTok), &pb.AddRequest{Pool: "p", Secrets: bad})
		note(err)
	}
	_, err = b.client.Add(as(clientTok), &pb.AddRequest{Pool: "p", Secrets: secrets})
	note(err)
	_, err = b.client.Add(as("LEAKCHECK-wrong-token-0003"), &pb.AddRequest{Pool: "p", Secrets: secrets})
	note(err)
	for range 20 {
		_, err := b.client.GetRandom(as(clientTok), &pb.GetRandomRequest{Pool: "p"})
		note(err)
	}
	reports := []*pb.ReportFailureRequest{
		{HttpStatus: 401, ErrorCode: "invalid_api_key", ErrorMessage: "Incorrect API key provided: sk-LEAKCHECK-aaaaaaaaaaaa01"},
		{HttpStatus: 429, ErrorCode: "rate_limit_exceeded", RetryAfter: durationpb.New(time.Minute)},
		{HttpStatus: 429, ErrorType: "insufficient_quota", ErrorMessage: "key sk-LEAKCHECK-cccccccccccc03 is out of quota"},
		{HttpStatus: 529, ErrorType: "overloaded_error"},
		{HttpStatus: 403, ErrorMessage: "sk-LEAKCHECK-dddddddddddd04 not allowed here"},
	}
	for i, r := range reports {
		r.Pool, r.Key = "p", &pb.ReportFailureRequest_KeyId{KeyId: added.GetKeyIds()[i%len(added.GetKeyIds())]}
		_, err := b.client.ReportFailure(as(clientTok), r)
		note(err)
	}
	_, err = b.client.ReportFailure(as(clientTok), &pb.ReportFailureRequest{Pool: "p", Key: &pb.ReportFailureRequest_LeaseId{LeaseId: "sk-LEAKCHECK-not-a-lease"}})
	note(err)
	_, err = b.client.GetAll(as(adminTok), &pb.GetAllRequest{Pool: "p", Reveal: true})
	note(err)
	_, err = b.client.Remove(as(adminTok), &pb.RemoveRequest{Pool: "p", Secrets: []string{secrets[0], "sk-LEAKCHECK-never-added-99"}})
	note(err)
	_, err = b.client.Remove(as(adminTok), &pb.RemoveRequest{Pool: "p", Secrets: []string{"sk-LEAKCHECK with space"}})
	note(err)
	_, metricsPage := scrape(t, metricsAddr)
	if len(errs) != 7 { // 3 bad Adds, a client's Add, a wrong token, a bad lease, a bad Remove
		t.Fatalf("scenario produced %d errors, want 7; the failure paths did not all run: %q", len(errs), errs)
	}
	if err := b.stop(t); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, b.out)
	}

	logs := b.out.String()
	if !strings.Contains(logs, "secrets revealed") || !strings.Contains(logs, `"actor":"admin_token[0]"`) {
		t.Errorf("reveal is not recorded with its actor:\n%s", logs)
	}
	stored := redistest.Dump(t, rs.Client())
	for where, text := range map[string]string{"log": logs, "errors": strings.Join(errs, "\n"), "redis": stored, "metrics": metricsPage} {
		if i := strings.Index(text, "LEAKCHECK"); i >= 0 {
			t.Errorf("%s contains a secret or token: …%s…", where, text[max(0, i-80):min(len(text), i+40)])
		}
	}
}

// TestAdminCLIOverTLS drives the admin CLI against a broker that serves
// TLS and requires credentials: a token, then a client certificate.
func TestAdminCLIOverTLS(t *testing.T) {
	ca := testpki.NewCA(t, "cli-ca")
	srv := ca.Server("broker")
	admin := ca.Client("ops-admin")
	auth := filepath.Join(t.TempDir(), "auth.yaml")
	writeFile(t, auth, "certificates:\n  - {name: ops, role: admin, subject_cn: ops-admin}\n")
	const tok = "cli-admin-token-000000001"
	addr := freeAddr(t)
	bin, _ := binary()
	cmd := exec.Command(bin, "serve", "--listen", addr, "--auth-file", auth, "--tls-cert", srv.CertFile, "--tls-key", srv.KeyFile, "--tls-client-ca", ca.CertFile)
	cmd.Env = append(os.Environ(), "KEYBROKER_ADMIN_TOKEN="+tok)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }() // "signal: killed" expected

	add := []string{"keys", "add", "--addr", addr, "--cacert", ca.CertFile, "--token", tok, "--pool", "p", "sk-cli-over-tls-000001"}
	testkit.EventuallyWhy(t, 10*time.Second, 50*time.Millisecond, "keys add over TLS with a token succeeds", func() (bool, string) {
		got, code := runBinary(t, nil, add...)
		return code == 0, fmt.Sprintf("exit %d\n%s\nbroker:\n%s", code, got, out)
	})
	got, code := runBinary(t, nil, "keys", "list", "--addr", addr, "--cacert", ca.CertFile, "--cert", admin.CertFile, "--key", admin.KeyFile, "--pool", "p")
	if code != 0 || !strings.Contains(got, "sk-cl…0001") {
		t.Fatalf("keys list over mTLS: exit %d\n%s", code, got)
	}
	got, code = runBinary(t, nil, "keys", "list", "--addr", addr, "--cacert", ca.CertFile, "--pool", "p")
	if code != 1 || !strings.Contains(strings.ToLower(got), "credentials") {
		t.Fatalf("keys list without credentials: exit %d\n%s", code, got)
	}
	if got, code = runBinary(t, nil, "keys", "list", "--addr", addr, "--cert", admin.CertFile, "--pool", "p"); code != 2 {
		t.Fatalf("--cert without --cacert: exit %d\n%s", code, got)
	}
}
