package server

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/auth"
)

// GRPCConfig holds the transport settings of the gRPC server.
type GRPCConfig struct {
	// MaxRecvMsgSize bounds one request of the bulk call (Add of up to
	// 10,000 keys fits in the default 8 MiB); every other method has its
	// own, much smaller bound (see requestLimits).
	MaxRecvMsgSize int
	// MaxConcurrentStreams bounds the calls in flight on one connection.
	MaxConcurrentStreams uint32
	// Reflection registers server reflection so grpcurl needs no .proto.
	Reflection bool
	// Auth, when enabled, requires credentials on every call but health and
	// reflection. A nil or empty policy leaves the service open.
	Auth *auth.Policy
	// AuthSource, when set, replaces Auth with a policy that can change
	// while the server runs (--auth-file reloads). Whether authentication
	// is on is decided once, from its policy at start.
	AuthSource PolicySource
	// Creds secures the transport (TLS, mTLS); nil serves plaintext.
	Creds credentials.TransportCredentials
	// Metrics, when set, records every call (first interceptor, so refused
	// and failed calls count too).
	Metrics CallMetrics
	// StatsHandler, when set, observes every call (OpenTelemetry tracing).
	StatsHandler stats.Handler
	// Draining, when set, ends every health Watch stream (UNAVAILABLE) once
	// closed: close it after the drain grace and before GracefulStop, which
	// would otherwise wait out the shutdown timeout for each watcher.
	Draining <-chan struct{}
}

// DefaultMaxConcurrentStreams is how many calls one connection may have in
// flight unless configured: far above what a client's pool of callers
// needs, and a bound on what one connection can make the broker hold.
const DefaultMaxConcurrentStreams = 128

// CallMetrics records every call (metrics.GRPCServer: go-grpc-middleware's
// prometheus metric names, without its per-call label lookups).
type CallMetrics interface {
	UnaryServerInterceptor() grpc.UnaryServerInterceptor
	StreamServerInterceptor() grpc.StreamServerInterceptor
	// InitializeMetrics creates the zero series of every registered method.
	InitializeMetrics(srv *grpc.Server)
}

// DefaultGRPCConfig is what `keybroker serve` uses unless told otherwise.
func DefaultGRPCConfig() GRPCConfig {
	return GRPCConfig{MaxRecvMsgSize: 8 << 20, MaxConcurrentStreams: DefaultMaxConcurrentStreams, Reflection: true}
}

// NewGRPCServer returns a gRPC server with svc, grpc.health.v1 (hs) and,
// if configured, reflection registered. Interceptors run in this order:
// metrics and logging first, so they record the code the client finally
// sees (refusals included); then authentication and authorisation;
// recovery last, so a panic in a handler becomes INTERNAL (and is logged)
// instead of killing the process. Before any of them, a tap handle
// authenticates each call from its headers, so an unauthenticated request
// is refused before its body is read, and a codec bounds each request's
// size and repeated fields per method before decoding it.
func NewGRPCServer(svc *Service, hs *health.Server, log *slog.Logger, cfg GRPCConfig) *grpc.Server {
	logOpts := []logging.Option{
		logging.WithLogOnEvents(logging.FinishCall), // never payloads: they carry secrets
		logging.WithLevels(codeToLevel),
	}
	var unary []grpc.UnaryServerInterceptor
	var stream []grpc.StreamServerInterceptor
	if cfg.Metrics != nil {
		unary = append(unary, cfg.Metrics.UnaryServerInterceptor())
		stream = append(stream, cfg.Metrics.StreamServerInterceptor())
	}
	unary = append(unary, logUnary(log)) // the same fields as the stream one, cheaper (see logUnary)
	stream = append(stream, logging.StreamServerInterceptor(slogAdapter(log), logOpts...))
	pols := cfg.AuthSource
	if pols == nil && cfg.Auth != nil {
		pols = StaticPolicy{cfg.Auth}
	}
	authOn := pols != nil && pols.Current().Enabled()
	if authOn {
		unary = append(unary, authUnary(pols))
		stream = append(stream, authStream(pols))
	}
	unary = append(unary, recovery.UnaryServerInterceptor(recovery.WithRecoveryHandlerContext(panicHandler(log))))
	stream = append(stream, recovery.StreamServerInterceptor(recovery.WithRecoveryHandlerContext(panicHandler(log))))
	codec := newLimitCodec(cfg.MaxRecvMsgSize)
	opts := []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(unary...),
		grpc.ChainStreamInterceptor(stream...),
		grpc.MaxRecvMsgSize(cfg.MaxRecvMsgSize),
		grpc.ForceServerCodecV2(codec),
		// Calls run on long-lived workers whose stacks have already grown
		// to what the interceptor chain needs, instead of a new goroutine
		// per call that grows (copies) its stack every time; when every
		// worker is busy grpc-go starts a goroutine as before.
		grpc.NumStreamWorkers(streamWorkers()),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			MaxConnectionIdle: 15 * time.Minute,
			Time:              30 * time.Second,
			Timeout:           10 * time.Second,
		}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			MinTime:             10 * time.Second,
			PermitWithoutStream: true,
		}),
	}
	if cfg.MaxConcurrentStreams > 0 {
		opts = append(opts, grpc.MaxConcurrentStreams(cfg.MaxConcurrentStreams))
	}
	if authOn {
		opts = append(opts, grpc.InTapHandle(authTap(pols)))
	}
	if cfg.Creds != nil {
		opts = append(opts, grpc.Creds(cfg.Creds))
	}
	if cfg.StatsHandler != nil {
		opts = append(opts, grpc.StatsHandler(cfg.StatsHandler))
	}
	srv := grpc.NewServer(opts...)
	srv.RegisterService(boundedHandlers(pb.KeyBrokerService_ServiceDesc, codec), svc)
	if cfg.Draining != nil {
		healthpb.RegisterHealthServer(srv, drainableHealth{hs, cfg.Draining})
	} else {
		healthpb.RegisterHealthServer(srv, hs)
	}
	if cfg.Reflection {
		if err := registerReflection(srv); err != nil {
			// The set is generated and embedded with the package; a bad
			// one is a build defect, so fall back to comment-free
			// reflection rather than refuse to serve.
			log.Error("server reflection without comments", "err", err)
			reflection.Register(srv)
		}
	}
	if cfg.Metrics != nil {
		cfg.Metrics.InitializeMetrics(srv) // zero series for every method
	}
	return srv
}

// streamWorkers is how many stream workers the server keeps: a few per
// CPU, so that calls waiting on Redis do not leave the CPUs idle.
func streamWorkers() uint32 { return uint32(4 * runtime.GOMAXPROCS(0)) }

func slogAdapter(l *slog.Logger) logging.Logger {
	return logging.LoggerFunc(func(ctx context.Context, lvl logging.Level, msg string, fields ...any) {
		l.Log(ctx, slog.Level(lvl), msg, fields...)
	})
}

// codeToLevel keeps successful calls (GetRandom is the hot path) out of
// the default log and raises server-side trouble.
func codeToLevel(c codes.Code) logging.Level {
	switch c {
	case codes.OK:
		return logging.LevelDebug
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted:
		return logging.LevelWarn
	case codes.Internal, codes.Unknown, codes.DataLoss, codes.Unimplemented:
		return logging.LevelError
	}
	return logging.LevelInfo
}

func panicHandler(log *slog.Logger) recovery.RecoveryHandlerFuncContext {
	return func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "handler panicked", "panic", panicText(p), "stack", string(debug.Stack()))
		return status.Error(codes.Internal, "internal error")
	}
}

// panicText describes a panic for the log without risking a secret: the
// runtime's own errors (index out of range, nil dereference) name no
// request data and are kept; any other value is text someone formatted,
// possibly from a request, so only its type is logged. The stack says
// where it happened.
func panicText(p any) string {
	if err, ok := p.(runtime.Error); ok {
		return err.Error()
	}
	return fmt.Sprintf("%T (value not logged)", p)
}
