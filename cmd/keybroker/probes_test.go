package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/keybroker/keybroker/internal/redistest"
	"github.com/keybroker/keybroker/internal/testkit"
	"github.com/keybroker/keybroker/internal/testpki"
)

// k8sProbe is a Kubernetes probe as a manifest writes it.
type k8sProbe struct {
	HTTPGet *struct {
		Path   string `yaml:"path"`
		Port   any    `yaml:"port"`
		Scheme string `yaml:"scheme"`
	} `yaml:"httpGet"`
	GRPC *struct {
		Port int `yaml:"port"`
	} `yaml:"grpc"`
	Exec *struct {
		Command []string `yaml:"command"`
	} `yaml:"exec"`
}

type k8sContainer struct {
	Name  string   `yaml:"name"`
	Args  []string `yaml:"args"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	Readiness *k8sProbe `yaml:"readinessProbe"`
	Liveness  *k8sProbe `yaml:"livenessProbe"`
}

// keybrokerContainer reads the keybroker container of the first document
// of a manifest (a Deployment or a Pod).
func keybrokerContainer(t *testing.T, file string) k8sContainer {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Spec struct {
			Containers []k8sContainer `yaml:"containers"`
			Template   struct {
				Spec struct {
					Containers []k8sContainer `yaml:"containers"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	if err := yaml.NewDecoder(bytes.NewReader(raw)).Decode(&doc); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	for _, c := range append(doc.Spec.Containers, doc.Spec.Template.Spec.Containers...) {
		if c.Name == "keybroker" {
			return c
		}
	}
	t.Fatalf("%s has no keybroker container", file)
	return k8sContainer{}
}

// runProbe does what the kubelet does for p against a broker whose
// container ports are served at addrs (containerPort → host:port): an
// HTTP GET, or a gRPC health check, which the kubelet makes in plaintext.
func runProbe(c k8sContainer, p *k8sProbe, addrs map[int]string) error {
	port := func(v any) (int, error) {
		switch v := v.(type) {
		case int:
			return v, nil
		case string:
			for _, cp := range c.Ports {
				if cp.Name == v {
					return cp.ContainerPort, nil
				}
			}
		}
		return 0, fmt.Errorf("port %v is not declared", v)
	}
	switch {
	case p.HTTPGet != nil:
		n, err := port(p.HTTPGet.Port)
		if err != nil {
			return err
		}
		if p.HTTPGet.Scheme != "" && p.HTTPGet.Scheme != "HTTP" {
			return fmt.Errorf("scheme %s: the HTTP port serves plain HTTP", p.HTTPGet.Scheme)
		}
		resp, err := http.Get("http://" + addrs[n] + p.HTTPGet.Path)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode >= 400 {
			return fmt.Errorf("GET %s: %s", p.HTTPGet.Path, resp.Status)
		}
		return nil
	case p.GRPC != nil:
		conn, err := grpc.NewClient(addrs[p.GRPC.Port], grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return err
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
		if err != nil {
			return fmt.Errorf("grpc probe (plaintext, as the kubelet makes it): %w", err)
		}
		if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			return fmt.Errorf("grpc probe: %s", resp.GetStatus())
		}
		return nil
	}
	return fmt.Errorf("probe %+v: only httpGet and grpc probes are supported", p)
}

// TestManifestProbesAgainstATLSBroker runs the readiness and liveness
// probes of the shipped manifests, exactly as written, against a broker
// started with TLS and auth as shared.yaml starts it. A plaintext gRPC
// readiness probe never passes against it: that is how shared.yaml used
// to stay un-Ready forever.
func TestManifestProbesAgainstATLSBroker(t *testing.T) {
	rs := redistest.Start(t)
	ca := testpki.NewCA(t, "probe-ca")
	srv := ca.Server("127.0.0.1")
	grpcAddr, httpAddr, probeAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--listen", grpcAddr, "--tls-cert", srv.CertFile, "--tls-key", srv.KeyFile,
		"--metrics-addr", httpAddr, "--probe-addr", probeAddr, "--redis", rs.Client().Options().Addr, "--health-interval", "100ms")
	cmd.Env = append(os.Environ(), "KEYBROKER_ADMIN_TOKEN=probe-admin-token-0123456789")
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }) // "signal: killed" expected

	for _, file := range []string{"../../deploy/kubernetes/shared.yaml", "../../deploy/kubernetes/sidecar.yaml"} {
		c := keybrokerContainer(t, file)
		addrs := map[int]string{}
		for _, p := range c.Ports {
			switch p.Name {
			case "grpc":
				addrs[p.ContainerPort] = grpcAddr
			case "metrics":
				addrs[p.ContainerPort] = httpAddr
			case "probes":
				addrs[p.ContainerPort] = probeAddr
			}
		}
		for name, p := range map[string]*k8sProbe{"readiness": c.Readiness, "liveness": c.Liveness} {
			t.Run(file+" "+name, func(t *testing.T) {
				if p == nil {
					t.Fatalf("no %s probe", name)
				}
				passes(t, "the "+name+" probe passes against a TLS broker", func() error { return runProbe(c, p, addrs) })
			})
		}
		if r, l := c.Readiness, c.Liveness; r != nil && l != nil && r.HTTPGet != nil && l.HTTPGet != nil && r.HTTPGet.Path == l.HTTPGet.Path {
			t.Errorf("%s: liveness is readiness; a Redis outage would restart every replica", file)
		}
	}
}

// TestListensWhileWaitingForRedis: a broker whose Redis is not up yet
// answers its probes at once (alive, not ready) and becomes ready when
// Redis arrives, so a liveness probe never restarts it for waiting.
func TestListensWhileWaitingForRedis(t *testing.T) {
	rs := redistest.Start(t)
	proxy := redistest.StartProxy(t, rs.Client().Options().Addr)
	proxy.Cut()
	httpAddr := freeAddr(t)
	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--listen", freeAddr(t), "--metrics-addr", httpAddr, "--redis", proxy.Addr, "--health-interval", "100ms")
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }) // "signal: killed" expected
	get := func(path string) (int, error) {
		resp, err := http.Get("http://" + httpAddr + path)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	passes(t, "/healthz answers 200 while the broker waits for Redis", func() error { return want(get("/healthz"))(200) })
	if code, err := get("/readyz"); err != nil || code != 503 {
		t.Fatalf("/readyz while waiting for Redis: %d %v", code, err)
	}
	proxy.Restore()
	passes(t, "/readyz answers 200 once Redis is up", func() error { return want(get("/readyz"))(200) })
}

func want(code int, err error) func(int) error {
	return func(w int) error {
		if err != nil {
			return err
		}
		if code != w {
			return fmt.Errorf("status %s, want %d", strconv.Itoa(code), w)
		}
		return nil
	}
}

// passes polls f with testkit.Eventually and logs its last error when
// it never succeeds.
func passes(t *testing.T, what string, f func() error) {
	t.Helper()
	var last error
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last error: %v", last)
		}
	})
	testkit.Eventually(t, 20*time.Second, 100*time.Millisecond, what, func() bool {
		last = f()
		return last == nil
	})
}
