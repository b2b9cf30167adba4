package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/keybroker/keybroker/internal/tracing"
)

// listenOps opens the plain-HTTP listener for metrics and probes; an empty
// address turns it off.
func listenOps(addr string, h http.Handler) (*opsServer, error) {
	if addr == "" {
		return nil, nil
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen for metrics on %s: %w", addr, err)
	}
	return &opsServer{l: l, srv: &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}}, nil
}

// withStatusPage serves the status page at /status beside the probes and
// metrics of ops.
func withStatusPage(ops, page http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", ops)
	mux.Handle("/status", page)
	mux.Handle("/status/", page)
	return mux
}

// lateHandler answers 503 until set: the status page before the key store
// is open.
type lateHandler struct{ h atomic.Pointer[http.Handler] }

func (l *lateHandler) set(h http.Handler) { l.h.Store(&h) }

func (l *lateHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h := l.h.Load(); h != nil {
		(*h).ServeHTTP(w, r)
		return
	}
	http.Error(w, "starting: waiting for the key store (Redis)", http.StatusServiceUnavailable)
}

type opsServer struct {
	l   net.Listener
	srv *http.Server
}

// serveOps serves until ctx ends, then shuts the listener down. Probes keep
// answering (readyz: 503) while the gRPC server drains, until then.
func serveOps(ctx context.Context, o *opsServer) error {
	errc := make(chan error, 1)
	go func() { errc <- o.srv.Serve(o.l) }()
	select {
	case err := <-errc:
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

// hangups delivers SIGHUP until ctx ends: the operator's "reload the
// configuration now".
func hangups(ctx context.Context) <-chan os.Signal {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	go func() {
		<-ctx.Done()
		signal.Stop(ch)
	}()
	return ch
}

func flushTraces(t *tracing.Tracer, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := t.Shutdown(ctx); err != nil {
		log.Warn("flush traces", "err", err)
	}
}
