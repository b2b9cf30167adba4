package broker

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"sync/atomic"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/config"
	"github.com/keybroker/keybroker/internal/metrics"
	"github.com/keybroker/keybroker/internal/store"
	"github.com/keybroker/keybroker/server"
)

// statusSource is what GetStatus and the status page say about this
// broker beyond the store: version, start time and the worker's counters.
func (b *Broker) statusSource() server.StatusSource {
	return server.StatusSource{Version: b.cfg.Version.String(), Started: b.started, Worker: b.workerStatus}
}

// workerStatus reports the in-process worker; nil when it runs elsewhere.
func (b *Broker) workerStatus() *pb.WorkerStatus {
	if b.worker == nil {
		return nil
	}
	s := b.worker.Stats()
	return &pb.WorkerStatus{Name: b.workerName, Checked: s.Checked, Changed: s.Changed, Faults: s.Faults, Errors: s.Errors}
}

// knownPools are the pools in Redis and in the policies at start, whose
// metric series are created at zero before the first scrape.
func knownPools(ctx context.Context, st *store.Store, policies Policies, log *slog.Logger) []metrics.PoolInfo {
	names, err := st.Pools(ctx)
	if err != nil {
		log.Warn("metrics: list pools", "err", err)
	}
	for _, n := range declaredPools(policies) {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	out := make([]metrics.PoolInfo, len(names))
	for i, n := range names {
		out[i] = metrics.PoolInfo{Name: n, Validator: policies.Pool(n).Validator.Kind}
	}
	return out
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

// declaredPools are the pools a policy file names: *config.Config's, or
// the current ones of a *config.Live.
func declaredPools(p Policies) []string {
	switch p := p.(type) {
	case *config.Config:
		return p.PoolNames()
	case *config.Live:
		return p.Current().PoolNames()
	}
	return nil
}
