package broker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// listen opens the gRPC listener: TCP for host:port, a unix socket for
// unix:/path or unix:///path with permissions mode (a stale socket file is
// replaced).
func listen(addr string, mode os.FileMode) (net.Listener, error) {
	path, ok := strings.CutPrefix(addr, "unix:")
	if !ok {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("listen on %s: %w", addr, err)
		}
		return l, nil
	}
	path = strings.TrimPrefix(path, "//")
	if path == "" {
		return nil, fmt.Errorf("listen on %q: no socket path", addr)
	}
	return listenUnix(path, mode, nil)
}

// listenUnix creates the socket with its final permissions from the
// start: the umask is narrowed around bind, so there is no moment in
// which the socket is open to anyone (a chmod after listening left one,
// and a caller who connected in it stayed connected). afterBind, when set,
// runs right after bind (tests look at the socket there).
func listenUnix(path string, mode os.FileMode, afterBind func()) (net.Listener, error) {
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("remove stale socket %s: %w", path, err)
	}
	var l net.Listener
	err := withUmask(0o777&^mode.Perm(), func() error {
		var err error
		l, err = net.Listen("unix", path)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listen on unix:%s: %w", path, err)
	}
	if afterBind != nil {
		afterBind()
	}
	if err := os.Chmod(path, mode); err != nil { // the umask can only remove bits
		l.Close()
		return nil, fmt.Errorf("set permissions of %s: %w", path, err)
	}
	return l, nil
}

// opsServer serves metrics, probes and the status page over plain HTTP.
// It starts serving in New (start), before Redis answers, and stops when
// Run's background loops do (serve).
type opsServer struct {
	l    net.Listener
	srv  *http.Server
	errc chan error
}

// listenOps opens the plain-HTTP listener for metrics and probes.
func listenOps(addr string, h http.Handler) (*opsServer, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen for metrics on %s: %w", addr, err)
	}
	return &opsServer{l: l, srv: &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}, errc: make(chan error, 1)}, nil
}

// start serves in the background.
func (o *opsServer) start() {
	go func() { o.errc <- o.srv.Serve(o.l) }()
}

// serve waits until ctx ends, then shuts the server down. Probes keep
// answering (readyz: 503) while the gRPC server drains, until then.
func (o *opsServer) serve(ctx context.Context) error {
	select {
	case err := <-o.errc:
		return fmt.Errorf("metrics listener: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := o.srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("stop metrics listener: %w", err)
	}
	return nil
}
