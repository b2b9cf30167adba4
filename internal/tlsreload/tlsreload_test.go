package tlsreload

import (
	"context"
	"crypto/tls"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/keybroker/keybroker/internal/testkit"
	"github.com/keybroker/keybroker/internal/testpki"
)

// servedSerial starts a TLS handshake with a server using cfg and returns
// the serial number of the certificate it presents.
func servedSerial(t *testing.T, cfg *tls.Config, ca *testpki.CA) string {
	t.Helper()
	l, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err == nil {
			_ = c.(*tls.Conn).Handshake() // the client side reports the outcome
			c.Close()
		}
	}()
	conn, err := tls.Dial("tcp", l.Addr().String(), &tls.Config{RootCAs: ca.Pool, ServerName: "127.0.0.1", NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if got := conn.ConnectionState().NegotiatedProtocol; got != "h2" {
		t.Fatalf("ALPN negotiated %q, gRPC needs h2", got)
	}
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// installed copies leaf to files a test can overwrite, as a rotation would,
// and loads them.
func installed(t *testing.T, leaf *testpki.Leaf) (f *Files, cert, key string) {
	t.Helper()
	dir := t.TempDir()
	cert, key = dir+"/tls.crt", dir+"/tls.key"
	copyFile(t, leaf.CertFile, cert)
	copyFile(t, leaf.KeyFile, key)
	f, err := Load(cert, key, "")
	if err != nil {
		t.Fatal(err)
	}
	return f, cert, key
}

func TestReloadPicksUpRotatedCertificates(t *testing.T) {
	ca := testpki.NewCA(t, "ca")
	a, b := ca.Server("server-a"), ca.Server("server-b")
	f, cert, key := installed(t, a)
	cfg := f.ServerConfig()
	if got := servedSerial(t, cfg, ca); got != a.Cert.SerialNumber.String() {
		t.Fatalf("serving %s, want certificate a", got)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go f.Watch(ctx, 10*time.Millisecond, nil, slog.New(slog.DiscardHandler))
	copyFile(t, b.CertFile, cert)
	copyFile(t, b.KeyFile, key)
	future := time.Now().Add(time.Second) // a distinct mtime even on coarse clocks
	for _, p := range []string{cert, key} {
		if err := os.Chtimes(p, future, future); err != nil {
			t.Fatal(err)
		}
	}
	testkit.Eventually(t, 10*time.Second, 10*time.Millisecond, "the rotated certificate is served", func() bool {
		return servedSerial(t, cfg, ca) == b.Cert.SerialNumber.String()
	})
}

func TestBrokenRotationKeepsTheOldCertificate(t *testing.T) {
	ca := testpki.NewCA(t, "ca")
	a := ca.Server("server-a")
	f, cert, _ := installed(t, a)
	if err := os.WriteFile(cert, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Reload(); err == nil {
		t.Fatal("a broken certificate was accepted")
	}
	if got := servedSerial(t, f.ServerConfig(), ca); got != a.Cert.SerialNumber.String() {
		t.Fatalf("after a broken rotation serving %s, want the old certificate", got)
	}
}

func TestLoadRejects(t *testing.T) {
	ca := testpki.NewCA(t, "ca")
	a := ca.Server("a")
	if _, err := Load("", "", ""); err == nil {
		t.Error("no files accepted")
	}
	if _, err := Load(a.CertFile, a.KeyFile, a.KeyFile); err == nil {
		t.Error("a key file accepted as a CA bundle")
	}
	if _, err := Load(a.CertFile, "/nonexistent", ""); err == nil {
		t.Error("missing key accepted")
	}
}
