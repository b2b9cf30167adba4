// Package tracing turns on OpenTelemetry tracing of gRPC calls when an OTLP
// endpoint is configured, and stays entirely out of the way otherwise. The
// tracer provider is passed explicitly, never installed globally.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"google.golang.org/grpc/stats"
)

// The standard OpenTelemetry variables that switch export on.
const (
	EnvEndpoint       = "OTEL_EXPORTER_OTLP_ENDPOINT"
	EnvTracesEndpoint = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
)

// Tracer is the tracing set-up of one process.
type Tracer struct {
	// Handler observes gRPC server calls; nil when tracing is off.
	Handler stats.Handler
	// Endpoint is where spans go ("" when off), with any credentials in
	// the URL (user info, query) redacted: it is for logs.
	Endpoint string

	provider *sdktrace.TracerProvider
}

// Setup exports spans over OTLP/gRPC to the endpoint in
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT (an
// http:// endpoint is plaintext, https:// TLS), and does nothing when
// neither is set. The other OTEL_* variables (headers, timeouts,
// OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES) are read from the process
// environment as the SDK defines them; service.name defaults to
// "keybroker" only when neither of the last two sets it.
func Setup(ctx context.Context, getenv func(string) string, version string) (*Tracer, error) {
	endpoint := getenv(EnvTracesEndpoint)
	if endpoint == "" {
		endpoint = getenv(EnvEndpoint)
	}
	if endpoint == "" {
		return &Tracer{}, nil
	}
	exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpointURL(endpoint))
	if err != nil {
		return nil, fmt.Errorf("OTLP trace exporter for %s: %s", RedactEndpoint(endpoint), strings.ReplaceAll(err.Error(), endpoint, RedactEndpoint(endpoint)))
	}
	res, err := newResource(ctx, version)
	if err != nil {
		return nil, err
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	h := otelgrpc.NewServerHandler(
		otelgrpc.WithTracerProvider(tp),
		otelgrpc.WithPropagators(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})),
	)
	return &Tracer{Handler: h, Endpoint: RedactEndpoint(endpoint), provider: tp}, nil
}

// RedactEndpoint returns an endpoint URL fit for logs: user info and the
// query (where collectors' tokens are put) are replaced by REDACTED.
func RedactEndpoint(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "(unparsable endpoint, not shown)"
	}
	if u.User != nil {
		u.User = url.User("REDACTED")
	}
	if u.RawQuery != "" {
		u.RawQuery = "REDACTED"
	}
	u.Fragment = ""
	return u.String()
}

// newResource describes the process to the tracing backend. service.name is
// "keybroker" unless OTEL_SERVICE_NAME or a service.name in
// OTEL_RESOURCE_ATTRIBUTES names it otherwise: the environment is applied
// last, so an operator's name wins. A malformed OTEL_RESOURCE_ATTRIBUTES
// keeps what could be read and is reported through the SDK's error handler,
// as resource.Default does, rather than stopping the broker.
func newResource(ctx context.Context, version string) (*resource.Resource, error) {
	res, err := resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithAttributes(
			semconv.ServiceName("keybroker"),
			semconv.ServiceVersion(version),
		),
		resource.WithFromEnv(),
	)
	if errors.Is(err, resource.ErrPartialResource) {
		otel.Handle(err)
		return res, nil
	}
	if err != nil {
		return nil, fmt.Errorf("trace resource: %w", err)
	}
	return res, nil
}

// Shutdown flushes pending spans.
func (t *Tracer) Shutdown(ctx context.Context) error {
	if t.provider == nil {
		return nil
	}
	if err := t.provider.Shutdown(ctx); err != nil {
		return fmt.Errorf("flush traces: %w", err)
	}
	return nil
}
