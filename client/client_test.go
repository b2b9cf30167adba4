package client

import (
	"context"
	"net"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
)

// fakeBroker answers GetRandom with whatever getRandom says, counting
// calls, so that the Client's retries and metadata can be observed.
type fakeBroker struct {
	pb.UnimplementedKeyBrokerServiceServer
	calls     atomic.Int32
	getRandom func(ctx context.Context, call int32) (*pb.GetRandomResponse, error)
}

func (f *fakeBroker) GetRandom(ctx context.Context, _ *pb.GetRandomRequest) (*pb.GetRandomResponse, error) {
	return f.getRandom(ctx, f.calls.Add(1))
}

// serveFake runs f on lis and returns a Client for target.
func serveFake(t *testing.T, f *fakeBroker, lis net.Listener, target string, opts ...Option) *Client {
	t.Helper()
	gs := grpc.NewServer()
	pb.RegisterKeyBrokerServiceServer(gs, f)
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(gs.Stop)
	c, err := New(target, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func serveFakeTCP(t *testing.T, f *fakeBroker, opts ...Option) *Client {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveFake(t, f, lis, lis.Addr().String(), opts...)
}

func unavailable(retry time.Duration) error {
	st := status.New(codes.Unavailable, "not now")
	if retry > 0 {
		st, _ = st.WithDetails(&errdetails.ErrorInfo{Domain: "keybroker", Reason: "NO_HEALTHY_KEY"},
			&errdetails.RetryInfo{RetryDelay: durationpb.New(retry)})
	}
	return st.Err()
}

var ok = &pb.GetRandomResponse{KeyId: "0123456789abcdef"}

func TestClientRetriesUnavailable(t *testing.T) {
	fast := RetryPolicy{MaxAttempts: 4, InitialBackoff: time.Millisecond, MaxBackoff: 100 * time.Millisecond}
	tests := []struct {
		name      string
		answer    func(call int32) error
		wantCalls int32
		wantCode  codes.Code
	}{
		{"recovers after two", func(call int32) error {
			if call < 3 {
				return unavailable(0)
			}
			return nil
		}, 3, codes.OK},
		{"honours a short RetryInfo", func(call int32) error {
			if call == 1 {
				return unavailable(5 * time.Millisecond)
			}
			return nil
		}, 2, codes.OK},
		{"gives up on a long RetryInfo at once", func(int32) error { return unavailable(time.Minute) }, 1, codes.Unavailable},
		{"gives up after MaxAttempts", func(int32) error { return unavailable(0) }, 4, codes.Unavailable},
		{"never retries other codes", func(int32) error { return status.Error(codes.FailedPrecondition, "empty") }, 1, codes.FailedPrecondition},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeBroker{getRandom: func(_ context.Context, call int32) (*pb.GetRandomResponse, error) {
				if err := tt.answer(call); err != nil {
					return nil, err
				}
				return ok, nil
			}}
			c := serveFakeTCP(t, f, WithRetryPolicy(fast))
			_, err := c.GetRandom(context.Background(), "p")
			if status.Code(err) != tt.wantCode || f.calls.Load() != tt.wantCalls {
				t.Fatalf("GetRandom: %v after %d calls; want %v after %d", err, f.calls.Load(), tt.wantCode, tt.wantCalls)
			}
		})
	}
}

func TestClientErrorDetails(t *testing.T) {
	f := &fakeBroker{getRandom: func(context.Context, int32) (*pb.GetRandomResponse, error) { return nil, unavailable(time.Minute) }}
	c := serveFakeTCP(t, f)
	_, err := c.GetRandom(context.Background(), "p")
	if Reason(err) != pb.ErrorReason_ERROR_REASON_NO_HEALTHY_KEY || ErrorReason(err) != "NO_HEALTHY_KEY" || RetryDelay(err) != time.Minute {
		t.Fatalf("Reason = %v (%q), RetryDelay = %v from %v", Reason(err), ErrorReason(err), RetryDelay(err), err)
	}
	if Reason(nil) != pb.ErrorReason_ERROR_REASON_UNSPECIFIED || ErrorReason(nil) != "" || RetryDelay(nil) != 0 {
		t.Fatal("nil error has details")
	}
}

func TestClientDefaultDeadline(t *testing.T) {
	f := &fakeBroker{getRandom: func(ctx context.Context, _ int32) (*pb.GetRandomResponse, error) {
		<-ctx.Done() // a broker that never answers
		return nil, ctx.Err()
	}}
	c := serveFakeTCP(t, f, WithTimeout(50*time.Millisecond))
	if _, err := c.GetRandom(context.Background(), "p"); status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("GetRandom = %v, want DEADLINE_EXCEEDED", err)
	}
}

func TestClientSendsBearerTokenOverUnixSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "kb.sock")
	lis, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var got atomic.Value
	f := &fakeBroker{getRandom: func(ctx context.Context, _ int32) (*pb.GetRandomResponse, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		got.Store(md.Get("authorization"))
		return ok, nil
	}}
	c := serveFake(t, f, lis, "unix://"+sock, WithBearerToken("t0ken"))
	if _, err := c.GetRandom(context.Background(), "p"); err != nil {
		t.Fatal(err)
	}
	if auth, _ := got.Load().([]string); len(auth) != 1 || auth[0] != "Bearer t0ken" {
		t.Fatalf("authorization metadata = %q", auth)
	}
}

func TestNewRejectsEmptyTarget(t *testing.T) {
	if _, err := New(" "); err == nil {
		t.Fatal("New accepted an empty target")
	}
}
