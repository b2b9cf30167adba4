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
	stamp, err := f.currentStamp()
	if err != nil {
		return false, err
	}
	f.mu.RLock()
	same := stamp == f.stamp
	f.mu.RUnlock()
	if same {
		return false, nil
	}
	cert, err := tls.LoadX509KeyPair(f.certFile, f.keyFile)
	if err != nil {
		return false, fmt.Errorf("load TLS key pair %s: %w", f.certFile, err)
	}
	var cas *x509.CertPool
	if f.caFile != "" {
		pem, err := os.ReadFile(f.caFile)
		if err != nil {
			return false, fmt.Errorf("read client CA %s: %w", f.caFile, err)
		}
		cas = x509.NewCertPool()
		if !cas.AppendCertsFromPEM(pem) {
			return false, fmt.Errorf("client CA %s holds no PEM certificate", f.caFile)
		}
	}
	f.mu.Lock()
	f.cert, f.cas, f.stamp = &cert, cas, stamp
	f.mu.Unlock()
	return true, nil
}

// Watch checks the files every interval until ctx ends.
func (f *Files) Watch(ctx context.Context, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		changed, err := f.Reload()
		switch {
		case err != nil:
			log.Error("TLS files changed but cannot be used; keeping the previous ones", "err", err)
		case changed:
			log.Info("TLS files reloaded", "cert", f.certFile)
		}
	}
}

// currentStamp identifies the files' versions by size and modification
// time (following symlinks, as Kubernetes swaps them).
func (f *Files) currentStamp() (string, error) {
	var s string
	for _, name := range []string{f.certFile, f.keyFile, f.caFile} {
		if name == "" {
			continue
		}
		fi, err := os.Stat(name)
		if err != nil {
			return "", fmt.Errorf("TLS file: %w", err)
		}
		s += fmt.Sprintf("%s:%d:%d;", name, fi.Size(), fi.ModTime().UnixNano())
	}
	return s, nil
}
