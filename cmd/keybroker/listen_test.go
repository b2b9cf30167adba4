package main

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// /etc/hosts maps "localhost" to a network address (a misconfigured or
// tampered host). Before, the name alone was trusted and an
// unauthenticated broker bound off loopback; now every address the name
// resolves to must be loopback.
func TestLocalhostIsResolvedNotTrusted(t *testing.T) {
	hosts := map[string][]net.IPAddr{
		"localhost":     {{IP: net.ParseIP("10.0.0.5")}},
		"mixed.example": {{IP: net.ParseIP("127.0.0.1")}, {IP: net.ParseIP("192.0.2.1")}},
		"loop.example":  {{IP: net.ParseIP("127.0.0.1")}, {IP: net.ParseIP("::1")}},
	}
	lookup := func(_ context.Context, host string) ([]net.IPAddr, error) {
		if a, ok := hosts[host]; ok {
			return a, nil
		}
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	for _, addr := range []string{"localhost:50051", "mixed.example:50051", "nowhere.example:50051", ":50051", "0.0.0.0:50051"} {
		if err := checkExposureWith(addr, false, false, lookup); err == nil {
			t.Errorf("unauthenticated broker allowed on %s", addr)
		}
	}
	for _, addr := range []string{"loop.example:50051", "127.0.0.1:50051", "[::1]:50051", "unix:/tmp/kb.sock"} {
		if err := checkExposureWith(addr, false, false, lookup); err != nil {
			t.Errorf("%s refused: %v", addr, err)
		}
	}
}

// With tokens on and TLS off on a network address, tokens and leased
// secrets cross the network in the clear: the broker says so at start.
func TestServeWarnsOfPlaintextTokens(t *testing.T) {
	port := strings.TrimPrefix(freeAddr(t), "127.0.0.1:")
	bin, _ := binary()
	cmd := exec.Command(bin, "serve", "--listen", "0.0.0.0:"+port)
	cmd.Env = append(os.Environ(), "KEYBROKER_ADMIN_TOKEN=admin-token-0123456789")
	buf := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = buf, buf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	b := &brokerProc{cmd: cmd, out: buf, exited: make(chan error, 1)}
	go func() { b.exited <- cmd.Wait() }()
	b.dialTo(t, "127.0.0.1:"+port)
	b.waitHealth(t, 1)
	if err := b.stop(t); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, b.out)
	}
	if !strings.Contains(buf.String(), "bearer tokens (and leased secrets) cross the network in the clear") {
		t.Fatalf("no plaintext warning:\n%s", buf)
	}
	loop := startBrokerEnv(t, []string{"KEYBROKER_ADMIN_TOKEN=admin-token-0123456789"})
	if err := loop.stop(t); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, loop.out)
	}
	if strings.Contains(loop.out.String(), "in the clear") {
		t.Fatalf("warned on loopback:\n%s", loop.out)
	}
}
