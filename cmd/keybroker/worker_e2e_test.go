package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/redistest"
	"github.com/keybroker/keybroker/internal/testkit"
)

const (
	goodSecret  = "sk-e2e-worker-good-AAAAAAAAAAAAAAAA"
	spareSecret = "sk-e2e-worker-spare-CCCCCCCCCCCCCCC"
	badSecret   = "sk-e2e-worker-bad-BBBBBBBBBBBBBBBB"
)

// fakeOpenAI accepts goodSecret and spareSecret and refuses every other
// key, like OpenAI's GET /v1/models.
func fakeOpenAI(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		auth := r.Header.Get("Authorization")
		if r.URL.Path != "/v1/models" || auth != "Bearer "+goodSecret && auth != "Bearer "+spareSecret {
			w.WriteHeader(401)
			fmt.Fprint(w, `{"error": {"message": "Incorrect API key provided.", "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}}`)
			return
		}
		fmt.Fprint(w, `{"object": "list", "data": [{"id": "gpt-4o-mini", "object": "model"}]}`)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// workerConfig writes a policy file whose pool "main" is checked against
// base with the openai validator, confirming an invalid key a second
// after the first bad answer.
func workerConfig(t *testing.T, base string) string {
	path := filepath.Join(t.TempDir(), "pools.yaml")
	cfg := fmt.Sprintf("pools:\n  main:\n    provider: openai\n    base_url: %s\n    confirm_delay: 1s\n"+
		"    validator:\n      kind: openai\n      interval: 1h\n      timeout: 2s\n", base)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// waitFor polls cond every 50ms for up to 20s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testkit.Eventually(t, 20*time.Second, 50*time.Millisecond, what, cond)
}

// checkWorkerDecides adds two good keys and a bad one and waits for the
// worker to quarantine the bad one (confirm_delay after its first bad
// answer), then reports a good one invalid and waits for the worker to
// restore it. actor is who the audit trail should name.
func checkWorkerDecides(t *testing.T, b *brokerProc, actor string) {
	ctx := ctxT(t)
	add, err := b.client.Add(ctx, &pb.AddRequest{Pool: "main", Secrets: []string{goodSecret, badSecret, spareSecret}})
	if err != nil {
		t.Fatal(err)
	}
	good, bad := add.GetKeyIds()[0], add.GetKeyIds()[1]
	state := func(id string) *pb.Key {
		all, err := b.client.GetAll(ctx, &pb.GetAllRequest{Pool: "main"})
		if err != nil {
			return nil
		}
		for _, k := range all.GetKeys() {
			if k.GetKeyId() == id {
				return k
			}
		}
		return nil
	}
	waitFor(t, "the bad key is quarantined and the good one checked", func() bool {
		return state(bad).GetState() == pb.KeyState_KEY_STATE_QUARANTINED && state(good).GetLastValidatedTime() != nil
	})
	hist, err := b.client.GetKeyHistory(ctx, &pb.GetKeyHistoryRequest{Pool: "main", KeyId: bad})
	if err != nil || len(hist.GetEvents()) != 3 || hist.GetEvents()[0].GetState() != pb.KeyState_KEY_STATE_QUARANTINED || hist.GetEvents()[0].GetActor() != actor {
		t.Fatalf("history of the bad key = %v, %v", hist, err)
	}
	if _, err := b.client.ReportFailure(ctx, &pb.ReportFailureRequest{Pool: "main", Key: &pb.ReportFailureRequest_KeyId{KeyId: good}, HttpStatus: 401}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the reported key is verified and restored", func() bool {
		k := state(good)
		return k.GetState() == pb.KeyState_KEY_STATE_ACTIVE && k.GetReason() == "verified"
	})
}

func noSecretsIn(t *testing.T, logs string) {
	t.Helper()
	for _, s := range []string{goodSecret, badSecret, spareSecret} {
		if strings.Contains(logs, s) {
			t.Fatalf("log contains a secret:\n%s", logs)
		}
	}
}

// TestServeRunsTheWorker: by default serve checks the keys of pools with a
// validator, on the embedded store too.
func TestServeRunsTheWorker(t *testing.T) {
	b := startBroker(t, "--config", workerConfig(t, fakeOpenAI(t)), "--worker-poll", "50ms", "--worker-name", "e2e")
	checkWorkerDecides(t, b, "worker:e2e")
	if err := b.stop(t); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, b.out)
	}
	noSecretsIn(t, b.out.String())
}

// TestWorkerCommandAlone: serve --worker=false answers RPCs while a
// separate `keybroker worker` process checks the keys in the same Redis.
func TestWorkerCommandAlone(t *testing.T) {
	rs := redistest.Start(t)
	cfg := workerConfig(t, fakeOpenAI(t))
	b := startBroker(t, "--redis", rs.Addr, "--config", cfg, "--worker=false")
	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	out := &syncBuffer{}
	cmd := exec.Command(bin, "worker", "--redis", rs.Addr, "--config", cfg, "--worker-poll", "50ms", "--worker-name", "alone", "--log-format", "json")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited //nolint:errcheck // drains "signal: killed" (`_ =` trips S1005)
		exited <- nil
	})

	defer func() {
		if t.Failed() {
			t.Log(out.String())
		}
	}()
	checkWorkerDecides(t, b, "worker:alone")
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		exited <- err
		if err != nil {
			t.Fatalf("worker exit after SIGTERM: %v\n%s", err, out)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("worker did not stop on SIGTERM:\n%s", out)
	}
	if strings.Contains(b.out.String(), "validation worker running") {
		t.Errorf("serve --worker=false ran a worker:\n%s", b.out)
	}
	noSecretsIn(t, out.String()+b.out.String())
}
