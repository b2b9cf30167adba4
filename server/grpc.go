package server

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/encoding"
	encproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/auth"
)

// GRPCConfig holds the transport settings of the gRPC server.
type GRPCConfig struct {
	// MaxRecvMsgSize bounds one request; Add of thousands of keys fits in
	// the default 8 MiB.
	MaxRecvMsgSize int
	// Reflection registers server reflection so grpcurl needs no .proto.
	Reflection bool
	// Auth, when enabled, requires credentials on every call but health and
	// reflection. A nil or empty policy leaves the service open.
	Auth *auth.Policy
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
	return GRPCConfig{MaxRecvMsgSize: 8 << 20, Reflection: true}
}

// NewGRPCServer returns a gRPC server with svc, grpc.health.v1 (hs) and,
// if configured, reflection registered. Interceptors run in this order:
// metrics and logging first, so they record the code the client finally
// sees (refusals included); then authentication and authorisation;
// recovery last, so a panic in a handler becomes INTERNAL (and is logged)
// instead of killing the process.
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
	if cfg.Auth != nil && cfg.Auth.Enabled() {
		unary = append(unary, authUnary(cfg.Auth))
		stream = append(stream, authStream(cfg.Auth))
	}
	unary = append(unary, recovery.UnaryServerInterceptor(recovery.WithRecoveryHandlerContext(panicHandler(log))))
	stream = append(stream, recovery.StreamServerInterceptor(recovery.WithRecoveryHandlerContext(panicHandler(log))))
	opts := []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(unary...),
		grpc.ChainStreamInterceptor(stream...),
		grpc.MaxRecvMsgSize(cfg.MaxRecvMsgSize),
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
	if cfg.Creds != nil {
		opts = append(opts, grpc.Creds(cfg.Creds))
	}
	if cfg.StatsHandler != nil {
		opts = append(opts, grpc.StatsHandler(cfg.StatsHandler))
	}
	codec := newLenientCodec()
	opts = append(opts, grpc.ForceServerCodecV2(codec))
	srv := grpc.NewServer(opts...)
	srv.RegisterService(decodeFailuresInvalid(pb.KeyBrokerService_ServiceDesc, codec), svc)
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

// decodeFailuresInvalid returns desc with every unary handler answering a
// request grpc-go could not decode (malformed protobuf, a string field
// that is not UTF-8) with INVALID_ARGUMENT: grpc-go says INTERNAL, which
// blames the broker for the caller's bytes and trips server-error alerts.
// grpc-go writes that INTERNAL itself when a codec fails, so the codec
// (lenientCodec) does not fail: it remembers the message it could not
// fill, and the handler's decode step answers for it.
func decodeFailuresInvalid(desc grpc.ServiceDesc, codec *lenientCodec) *grpc.ServiceDesc {
	methods := make([]grpc.MethodDesc, len(desc.Methods))
	for i, m := range desc.Methods {
		handler := m.Handler
		m.Handler = func(srv any, ctx context.Context, dec func(any) error, ic grpc.UnaryServerInterceptor) (any, error) {
			return handler(srv, ctx, func(v any) error {
				if err := dec(v); err != nil {
					return err
				}
				if codec.failed(v) {
					return status.Error(codes.InvalidArgument, "request is not a valid message: malformed protobuf, or a string field that is not UTF-8")
				}
				return nil
			}, ic)
		}
		methods[i] = m
	}
	desc.Methods = methods
	return &desc
}

// lenientCodec is the protobuf codec, except that a keybroker.v1 request
// it cannot decode is recorded (by message) instead of failed; the
// service's handlers, wrapped by decodeFailuresInvalid, claim the record
// and answer INVALID_ARGUMENT. Messages of other services (health,
// reflection) fail as grpc-go would.
type lenientCodec struct {
	encoding.CodecV2
	bad sync.Map // message pointer → struct{}
}

func newLenientCodec() *lenientCodec {
	return &lenientCodec{CodecV2: encoding.GetCodecV2(encproto.Name)}
}

// Unmarshal decodes data into v; see lenientCodec.
func (c *lenientCodec) Unmarshal(data mem.BufferSlice, v any) error {
	err := c.CodecV2.Unmarshal(data, v)
	if err == nil {
		return nil
	}
	m, ok := v.(protoreflect.ProtoMessage)
	if !ok || m.ProtoReflect().Descriptor().ParentFile().Package() != "keybroker.v1" {
		return err
	}
	c.bad.Store(v, struct{}{})
	return nil
}

// failed reports (once) whether v could not be decoded.
func (c *lenientCodec) failed(v any) bool {
	_, bad := c.bad.LoadAndDelete(v)
	return bad
}
