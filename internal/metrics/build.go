package metrics

import "github.com/prometheus/client_golang/prometheus"

// SetBuildInfo exports keybroker_build_info: 1, labelled with the
// version, commit and Go release, so dashboards can tell replicas apart
// during a rollout.
func (m *Metrics) SetBuildInfo(version, revision, goVersion string) {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "build_info",
		Help: "Always 1; the labels say which build this process runs.",
	}, []string{"version", "revision", "goversion"})
	g.WithLabelValues(version, revision, goVersion).Set(1)
	m.Registry.MustRegister(g)
}
