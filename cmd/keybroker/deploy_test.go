package main

import (
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"testing"
	"time"
)

// /metrics has no authentication (pool names, key ids, counts), and the
// shipped manifests used to bind it to 0.0.0.0, reachable by anyone in
// the cluster. They now keep it on loopback and give the kubelet its
// probes on --probe-addr.
func TestManifestsKeepMetricsOnLoopback(t *testing.T) {
	for _, name := range []string{"../../deploy/kubernetes/sidecar.yaml", "../../deploy/kubernetes/shared.yaml", "../../deploy/keybroker.service"} {
		body, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`--metrics-addr[= ]([^\s]+)`).FindAllStringSubmatch(string(body), -1) {
			host, _, err := net.SplitHostPort(m[1])
			if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
				t.Errorf("%s serves /metrics on %s, beyond loopback", name, m[1])
			}
		}
	}
}

// --probe-addr answers the kubelet's probes and nothing else.
func TestProbeAddrServesOnlyProbes(t *testing.T) {
	probes := freeAddr(t)
	startBroker(t, "--probe-addr", probes)
	get := func(path string) int {
		c := &http.Client{Timeout: 5 * time.Second}
		resp, err := c.Get("http://" + probes + path)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body) // only the status matters
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get("/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d", code)
	}
	if code := get("/readyz"); code != http.StatusOK {
		t.Errorf("/readyz = %d", code)
	}
	if code := get("/metrics"); code != http.StatusNotFound {
		t.Errorf("/metrics on the probe address = %d, want 404", code)
	}
}
