// Package tlsreload serves a TLS certificate, and for mTLS a client CA
// bundle, from files, and picks up new versions of them without a restart
// (cert-manager and Kubernetes rotate them in place). A broken new version
// is logged and the previous one kept, so a bad rotation never takes the
// broker down.
package tlsreload

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/keybroker/keybroker/internal/filewatch"
)

// Files is a certificate pair and optional client CA bundle on disk.
type Files struct {
	certFile, keyFile, caFile string

	mu    sync.RWMutex
	cert  *tls.Certificate
	cas   *x509.CertPool // nil: no client certificates requested
	stamp string
}

// Load reads the files once; an error here is a start-up error.
func Load(certFile, keyFile, caFile string) (*Files, error) {
	if certFile == "" || keyFile == "" {
		return nil, fmt.Errorf("TLS needs both a certificate and a key file")
	}
	f := &Files{certFile: certFile, keyFile: keyFile, caFile: caFile}
	if _, err := f.Reload(); err != nil {
		return nil, err
	}
	return f, nil
}

// ServerConfig returns a tls.Config that uses the current files on every
// handshake. With a CA bundle, client certificates are verified when
// given (tokens remain an alternative); the authorisation layer decides
// what an unverified caller may do.
func (f *Files) ServerConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			f.mu.RLock()
			defer f.mu.RUnlock()
			cfg := &tls.Config{
				MinVersion:   tls.VersionTLS12,
				Certificates: []tls.Certificate{*f.cert},
				NextProtos:   []string{"h2"}, // gRPC requires ALPN h2
			}
			if f.cas != nil {
				cfg.ClientCAs = f.cas
				cfg.ClientAuth = tls.VerifyClientCertIfGiven
			}
			return cfg, nil
		},
	}
}

// Reload re-reads the files if any of them changed and reports whether it
// did. On error the previous certificate stays in use.
func (f *Files) Reload() (bool, error) {
	return filewatch.Reload(f, false)
}

// Name implements filewatch.Source.
func (f *Files) Name() string { return "TLS files" }

// Stamp implements filewatch.Source: the files' sizes and modification
// times (following symlinks, as Kubernetes swaps them).
func (f *Files) Stamp() (string, error) {
	s, err := filewatch.Stamp(f.certFile, f.keyFile, f.caFile)
	if err != nil {
		return "", fmt.Errorf("TLS file: %w", err)
	}
	return s, nil
}

// Loaded implements filewatch.Source.
func (f *Files) Loaded() string {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.stamp
}

// Load implements filewatch.Source: it reads the key pair and the CA
// bundle and, if both are usable, serves them from the next handshake.
func (f *Files) Load(stamp string, _ bool) error {
	cert, err := tls.LoadX509KeyPair(f.certFile, f.keyFile)
	if err != nil {
		return fmt.Errorf("load TLS key pair %s: %w", f.certFile, err)
	}
	var cas *x509.CertPool
	if f.caFile != "" {
		pem, err := os.ReadFile(f.caFile)
		if err != nil {
			return fmt.Errorf("read client CA %s: %w", f.caFile, err)
		}
		cas = x509.NewCertPool()
		if !cas.AppendCertsFromPEM(pem) {
			return fmt.Errorf("client CA %s holds no PEM certificate", f.caFile)
		}
	}
	f.mu.Lock()
	f.cert, f.cas, f.stamp = &cert, cas, stamp
	f.mu.Unlock()
	return nil
}

// Watch reloads the files when they change (once they have settled) and
// whenever hup delivers (SIGHUP), until ctx ends; see filewatch.Watch.
func (f *Files) Watch(ctx context.Context, interval time.Duration, hup <-chan os.Signal, log *slog.Logger) {
	filewatch.Watch(ctx, f, interval, hup, log.With("cert", f.certFile))
}
