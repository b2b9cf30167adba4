package metrics

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

var buckets = []float64{.001, .01, .1, 1}

// TestGRPCServerMatchesTheMiddlewareProvider runs the same unary calls
// (OK, refused, failed) through GRPCServer and through go-grpc-middleware's
// prometheus provider it replaced, and compares every series they export:
// names, labels and values (histogram counts), so that dashboards and
// alerts read the same numbers.
func TestGRPCServerMatchesTheMiddlewareProvider(t *testing.T) {
	ours := newGRPCServer(buckets)
	theirs := grpcprom.NewServerMetrics(grpcprom.WithServerHandlingTimeHistogram(grpcprom.WithHistogramBuckets(buckets)))
	calls := []struct {
		method string
		err    error
	}{
		{"/keybroker.v1.KeyBrokerService/GetRandom", nil},
		{"/keybroker.v1.KeyBrokerService/GetRandom", nil},
		{"/keybroker.v1.KeyBrokerService/GetRandom", status.Error(codes.FailedPrecondition, "empty")},
		{"/keybroker.v1.KeyBrokerService/Add", status.Error(codes.PermissionDenied, "no")},
		{"/keybroker.v1.KeyBrokerService/Add", context.Canceled},
	}
	for _, ic := range []grpc.UnaryServerInterceptor{ours.UnaryServerInterceptor(), theirs.UnaryServerInterceptor()} {
		for _, c := range calls {
			_, _ = ic(context.Background(), nil, &grpc.UnaryServerInfo{FullMethod: c.method}, func(context.Context, any) (any, error) { return nil, c.err })
		}
	}
	got, want := gatheredSeries(t, ours), gatheredSeries(t, theirs)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("series differ\nours:\n%s\nmiddleware:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// gatheredSeries lists every non-zero series of c as "name{labels} value".
func gatheredSeries(t *testing.T, c prometheus.Collector) []string {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range families {
		for _, m := range f.GetMetric() {
			v := value(m)
			if v == 0 {
				continue
			}
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			out = append(out, fmt.Sprintf("%s{%s} %v", f.GetName(), strings.Join(labels, ","), v))
		}
	}
	sort.Strings(out)
	return out
}

func value(m *dto.Metric) float64 {
	if h := m.GetHistogram(); h != nil {
		return float64(h.GetSampleCount())
	}
	return m.GetCounter().GetValue()
}

// TestGRPCServerUnaryAllocatesNothing checks the point of GRPCServer: a
// unary call that ends OK records its five series without allocating.
func TestGRPCServerUnaryAllocatesNothing(t *testing.T) {
	ic := newGRPCServer(buckets).UnaryServerInterceptor()
	info := &grpc.UnaryServerInfo{FullMethod: "/keybroker.v1.KeyBrokerService/GetRandom"}
	ok := func(context.Context, any) (any, error) { return info, nil }
	ctx := context.Background()
	_, _ = ic(ctx, nil, info, ok)
	if a := testing.AllocsPerRun(100, func() { _, _ = ic(ctx, nil, info, ok) }); a != 0 {
		t.Errorf("a unary call allocates %.1f times, want 0", a)
	}
}

// BenchmarkUnaryMetrics is the metrics interceptor on a GetRandom that
// ends OK: GRPCServer, and the middleware provider it replaced.
func BenchmarkUnaryMetrics(b *testing.B) {
	info := &grpc.UnaryServerInfo{FullMethod: "/keybroker.v1.KeyBrokerService/GetRandom"}
	ok := func(context.Context, any) (any, error) { return info, nil }
	ctx := context.Background()
	for _, c := range []struct {
		name string
		ic   grpc.UnaryServerInterceptor
	}{
		{"keybroker", newGRPCServer(buckets).UnaryServerInterceptor()},
		{"middleware", grpcprom.NewServerMetrics(grpcprom.WithServerHandlingTimeHistogram(grpcprom.WithHistogramBuckets(buckets))).UnaryServerInterceptor()},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = c.ic(ctx, nil, info, ok)
			}
		})
	}
}
