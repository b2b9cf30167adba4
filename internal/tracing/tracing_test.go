package tracing

import (
	"context"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// collector is a fake OTLP trace receiver that remembers span names and
// the service.name of the resources they came from.
type collector struct {
	collectortrace.UnimplementedTraceServiceServer
	mu       sync.Mutex
	spans    []string
	services []string
}

func (c *collector) Export(_ context.Context, req *collectortrace.ExportTraceServiceRequest) (*collectortrace.ExportTraceServiceResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				c.services = append(c.services, kv.GetValue().GetStringValue())
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				c.spans = append(c.spans, sp.GetName())
			}
		}
	}
	return &collectortrace.ExportTraceServiceResponse{}, nil
}

func (c *collector) names() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.spans...)
}

func (c *collector) serviceNames() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.services...)
}

func serve(t *testing.T, register func(*grpc.Server), opts ...grpc.ServerOption) (string, *grpc.Server) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(opts...)
	register(s)
	go func() { _ = s.Serve(l) }() // nil after Stop; a dead listener fails the test's RPCs
	t.Cleanup(s.Stop)
	return l.Addr().String(), s
}

func TestOffWithoutEndpoint(t *testing.T) {
	tr, err := Setup(context.Background(), func(string) string { return "" }, "test")
	if err != nil || tr.Handler != nil || tr.Endpoint != "" {
		t.Fatalf("Setup without endpoint = %+v, %v; want tracing off", tr, err)
	}
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestSpansReachTheCollector(t *testing.T) {
	col := &collector{}
	colAddr, _ := serve(t, func(s *grpc.Server) { collectortrace.RegisterTraceServiceServer(s, col) })
	env := map[string]string{EnvEndpoint: "http://" + colAddr}
	exportOneCall(t, func(k string) string { return env[k] })
	if names := col.names(); !slices.Contains(names, "grpc.health.v1.Health/Check") {
		t.Fatalf("collector received spans %q, want the Check call among them", names)
	}
	if got := col.serviceNames(); !slices.Equal(got, []string{"keybroker"}) {
		t.Errorf("service.name with neither variable set = %q, want [keybroker]", got)
	}
}

// TestServiceNameFromTheEnvironment: an operator who names the service in
// OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES (to tell a sidecar fleet
// from a shared broker in the tracing backend) sees that name on the spans,
// not the built-in "keybroker"; OTEL_SERVICE_NAME wins over the attribute,
// as the OpenTelemetry specification says.
func TestServiceNameFromTheEnvironment(t *testing.T) {
	for _, tc := range []struct {
		name, serviceName, attributes, want string
	}{
		{"OTEL_SERVICE_NAME", "chat-broker", "", "chat-broker"},
		{"OTEL_RESOURCE_ATTRIBUTES", "", "deployment.environment=prod,service.name=sidecar-broker", "sidecar-broker"},
		{"both", "chat-broker", "service.name=sidecar-broker", "chat-broker"},
		{"other attributes only", "", "deployment.environment=prod", "keybroker"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			col := &collector{}
			colAddr, _ := serve(t, func(s *grpc.Server) { collectortrace.RegisterTraceServiceServer(s, col) })
			t.Setenv(EnvEndpoint, "http://"+colAddr)
			t.Setenv("OTEL_SERVICE_NAME", tc.serviceName)
			t.Setenv("OTEL_RESOURCE_ATTRIBUTES", tc.attributes)
			exportOneCall(t, os.Getenv)
			if got := col.serviceNames(); !slices.Equal(got, []string{tc.want}) {
				t.Errorf("service.name = %q, want [%s]", got, tc.want)
			}
		})
	}
}

// exportOneCall sets tracing up from getenv, makes one traced health check
// and flushes its span to the collector. The server-side span ends after
// the reply reaches the client, so the server stops gracefully (which waits
// for its handlers, the span's end included) before the flush.
func exportOneCall(t *testing.T, getenv func(string) string) {
	t.Helper()
	tr, err := Setup(context.Background(), getenv, "test")
	if err != nil || tr.Handler == nil {
		t.Fatalf("Setup = %+v, %v", tr, err)
	}
	addr, srv := serve(t, func(s *grpc.Server) { healthpb.RegisterHealthServer(s, health.NewServer()) }, grpc.StatsHandler(tr.Handler))
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	_, err = healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{})
	conn.Close()
	if err != nil {
		t.Fatal(err)
	}
	srv.GracefulStop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tr.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

// An operator puts collector credentials in the endpoint URL; the broker
// logs Tracer.Endpoint at start. It must not carry them.
func TestEndpointCredentialsAreRedacted(t *testing.T) {
	endpoint := "https://tenant:s3cret-pass@otlp.example:4317/v1/traces?api-key=t0ken-value"
	tr, err := Setup(context.Background(), func(k string) string {
		if k == EnvEndpoint {
			return endpoint
		}
		return ""
	}, "test")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tr.Shutdown(context.Background()) }() // no collector behind otlp.example: only the redaction is under test
	for _, secret := range []string{"s3cret-pass", "t0ken-value", "tenant"} {
		if strings.Contains(tr.Endpoint, secret) {
			t.Errorf("Endpoint %q shows %q", tr.Endpoint, secret)
		}
	}
	if !strings.Contains(tr.Endpoint, "otlp.example:4317") {
		t.Errorf("Endpoint %q no longer says where spans go", tr.Endpoint)
	}
}
