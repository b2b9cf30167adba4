// Package metrics exposes keybroker's Prometheus metrics on a registry of
// its own: gRPC server metrics, keys per pool and state (read from Redis at
// scrape time, so every replica reports the shared truth), leases, failure
// reports, state changes, and Redis command latency and errors. Labels are
// pools, states, kinds and reasons: never a secret and never a key id
// (unbounded cardinality).
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every keybroker metric.
const Namespace = "keybroker"

// Metrics holds the collectors. Create one per process with New and pass it
// to whatever records into it.
type Metrics struct {
	// Registry holds every collector below plus the Go and process ones.
	Registry *prometheus.Registry
	// GRPC is the gRPC server's request metrics (interceptors) with
	// latency histograms.
	GRPC *GRPCServer

	leases        *prometheus.CounterVec
	reports       *prometheus.CounterVec
	transitions   *prometheus.CounterVec
	redisDuration *prometheus.HistogramVec
	redisErrors   *prometheus.CounterVec
	checks        *prometheus.CounterVec
	queued        *prometheus.CounterVec
	checkDuration *prometheus.HistogramVec
}

// New registers keybroker's collectors on a fresh registry.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		Registry: reg,
		GRPC:     newGRPCServer([]float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}),
		leases: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "leases_total",
			Help: "Keys leased by GetRandom, by pool.",
		}, []string{"pool"}),
		reports: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "failure_reports_total",
			Help: "Failures reported by callers, by pool and classified kind.",
		}, []string{"pool", "kind"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "state_transitions_total",
			Help: "Key state changes, by pool, old and new state, kind of failure and reason. from is \"none\" for added keys; to is \"removed\" for deleted ones.",
		}, []string{"pool", "from", "to", "kind", "reason"}),
		redisDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "redis_command_duration_seconds",
			Help:    "Latency of Redis commands and pipelines, by command.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}, []string{"command"}),
		queued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "report_queue_total",
			Help: "Failure reports met with an unreachable Redis, by pool and outcome: queued (applied later) or refused (buffer full).",
		}, []string{"pool", "outcome"}),
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "validator_checks_total",
			Help: "Validation worker checks by pool, validator and outcome (valid, refused, fault, lost, error).",
		}, []string{"pool", "validator", "outcome"}),
		checkDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "validator_check_duration_seconds",
			Help:    "Time a validation check spent upstream, by pool and validator.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"pool", "validator"}),
		redisErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "redis_errors_total",
			Help: "Redis commands that failed (network, timeout, or an error reply), by command.",
		}, []string{"command"}),
	}
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.GRPC, m.leases, m.reports, m.transitions, m.redisDuration, m.redisErrors, m.checks, m.checkDuration, m.queued,
	)
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}
