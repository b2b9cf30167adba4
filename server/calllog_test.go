package server

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"testing"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

var getRandomInfo = &grpc.UnaryServerInfo{FullMethod: "/keybroker.v1.KeyBrokerService/GetRandom"}

// TestLogUnaryLogsFailuresWithTheMiddlewareFields checks that a refused
// call is logged at its level with the fields go-grpc-middleware wrote,
// so that dashboards and log queries built on them keep working.
func TestLogUnaryLogsFailuresWithTheMiddlewareFields(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx := peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4242}})
	fail := func(context.Context, any) (any, error) { return nil, status.Error(codes.Unavailable, "redis is away") }
	if _, err := logUnary(log)(ctx, nil, getRandomInfo, fail); status.Code(err) != codes.Unavailable {
		t.Fatalf("the handler's error was not passed on: %v", err)
	}
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("want one JSON line, got %q: %v", buf.String(), err)
	}
	want := map[string]any{
		"level": "WARN", "msg": "finished call", "protocol": "grpc", "grpc.component": "server",
		"grpc.service": "keybroker.v1.KeyBrokerService", "grpc.method": "GetRandom", "grpc.method_type": "unary",
		"peer.address": "127.0.0.1:4242", "grpc.code": "Unavailable", "grpc.error": "rpc error: code = Unavailable desc = redis is away",
	}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("%s = %v, want %v", k, line[k], v)
		}
	}
	for _, k := range []string{"grpc.start_time", "grpc.time_ms"} {
		if _, ok := line[k]; !ok {
			t.Errorf("no %s in %v", k, line)
		}
	}
}

// TestLogUnarySkipsSuccessesWithoutAllocating checks that a successful
// call, which the default level does not log, writes nothing and costs
// no allocation (the middleware spent about 45 on it).
func TestLogUnarySkipsSuccessesWithoutAllocating(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ic := logUnary(log)
	ctx := context.Background()
	ok := func(context.Context, any) (any, error) { return getRandomInfo, nil }
	allocs := testing.AllocsPerRun(100, func() { _, _ = ic(ctx, nil, getRandomInfo, ok) })
	if allocs != 0 {
		t.Errorf("an unlogged call allocates %.1f times, want 0", allocs)
	}
	if buf.Len() != 0 {
		t.Errorf("a successful call was logged at info: %s", buf.String())
	}
}

// BenchmarkLogUnary is the logging interceptor on a call it does not log
// (a successful GetRandom at the default level).
func BenchmarkLogUnary(b *testing.B) {
	ic := logUnary(slog.New(slog.NewJSONHandler(&bytes.Buffer{}, &slog.HandlerOptions{Level: slog.LevelInfo})))
	ctx := context.Background()
	ok := func(context.Context, any) (any, error) { return getRandomInfo, nil }
	b.ReportAllocs()
	for b.Loop() {
		_, _ = ic(ctx, nil, getRandomInfo, ok)
	}
}

// BenchmarkLogUnaryMiddleware is go-grpc-middleware's logging interceptor
// with serve's options on the same call, the cost logUnary replaced.
func BenchmarkLogUnaryMiddleware(b *testing.B) {
	log := slog.New(slog.NewJSONHandler(&bytes.Buffer{}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ic := logging.UnaryServerInterceptor(slogAdapter(log), logging.WithLogOnEvents(logging.FinishCall), logging.WithLevels(codeToLevel))
	ctx := peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4242}})
	ok := func(context.Context, any) (any, error) { return getRandomInfo, nil }
	b.ReportAllocs()
	for b.Loop() {
		_, _ = ic(ctx, nil, getRandomInfo, ok)
	}
}
