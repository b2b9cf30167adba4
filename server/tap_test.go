package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
)

// rawCodec sends bytes as they are, so a test can put anything on the wire.
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(*v.(*[]byte))}, nil
}
func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	*v.(*[]byte) = data.Materialize()
	return nil
}
func (rawCodec) Name() string { return "proto" }

var _ encoding.CodecV2 = rawCodec{}

func invokeRaw(ctx context.Context, conn *grpc.ClientConn, method string, body []byte) error {
	var out []byte
	return conn.Invoke(ctx, method, &body, &out, grpc.ForceCodecV2(rawCodec{}), grpc.MaxCallSendMsgSize(64<<20))
}

// An unauthenticated network peer: its request body is never decoded. The
// body sent here is not valid protobuf; were it decoded before the caller
// is authenticated (as grpc-go does before any interceptor), the answer
// would be a decoding error, not UNAUTHENTICATED.
func TestUnauthenticatedBodyIsNeverDecoded(t *testing.T) {
	b := startSecureBroker(t)
	conn := b.dial(t, nil)
	garbage := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}
	for _, tc := range []struct{ who, token string }{{"no credentials", ""}, {"bad token", "not-a-token-at-all-000"}} {
		for _, m := range []string{pb.KeyBrokerService_Remove_FullMethodName, pb.KeyBrokerService_GetRandom_FullMethodName} {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if tc.token != "" {
				ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tc.token)
			}
			err := invokeRaw(ctx, conn, m, garbage)
			cancel()
			if status.Code(err) != codes.Unauthenticated {
				t.Errorf("%s, %s with an undecodable body = %v, want UNAUTHENTICATED before decoding", tc.who, m, err)
			}
		}
	}
	// A client token calling an admin method is refused the same way.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+matrixClientToken)
	if err := invokeRaw(ctx, conn, pb.KeyBrokerService_Remove_FullMethodName, garbage); status.Code(err) != codes.PermissionDenied {
		t.Errorf("client token, Remove with an undecodable body = %v, want PERMISSION_DENIED before decoding", err)
	}
}

// emptyEntries encodes n empty strings in repeated field num: 2 bytes on
// the wire each, a 16-byte string header each once decoded.
func emptyEntries(num protowire.Number, n int) []byte {
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendString(b, matrixPool)
	for range n {
		b = protowire.AppendTag(b, num, protowire.BytesType)
		b = protowire.AppendVarint(b, 0)
	}
	return b
}

// A caller with a valid token (even an admin) cannot make the broker decode
// more than a method needs: sizes and repeated-field counts are checked on
// the wire bytes first, and the answer is RESOURCE_EXHAUSTED.
func TestRequestLimitsPerMethod(t *testing.T) {
	b := startSecureBroker(t)
	conn := b.dial(t, nil)
	as := func(tok string) context.Context {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		t.Cleanup(cancel)
		return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
	}
	tooMany := "holds more than 10000 entries"
	cases := []struct {
		name, token, method string
		body                []byte
		code                codes.Code
		msg                 string
	}{
		{"Remove with 1M empty key ids", matrixAdminToken, pb.KeyBrokerService_Remove_FullMethodName, emptyEntries(2, 1_000_000), codes.InvalidArgument, tooMany},
		{"Add with 10,001 secrets", matrixAdminToken, pb.KeyBrokerService_Add_FullMethodName, emptyEntries(2, maxSecretsPerCall+1), codes.InvalidArgument, tooMany},
		{"Add with 10,001 packed weights", matrixAdminToken, pb.KeyBrokerService_Add_FullMethodName,
			protowire.AppendBytes(protowire.AppendTag(nil, 3, protowire.BytesType), make([]byte, maxSecretsPerCall+1)), codes.InvalidArgument, tooMany},
		{"Remove of 3 MiB", matrixAdminToken, pb.KeyBrokerService_Remove_FullMethodName, emptyEntries(3, 1_500_000), codes.ResourceExhausted, "request too large"},
		{"GetRandom of 64 KiB", matrixClientToken, pb.KeyBrokerService_GetRandom_FullMethodName,
			protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), strings.Repeat("p", 64<<10)), codes.ResourceExhausted, "request too large"},
		{"ReportFailure of 1 MiB", matrixClientToken, pb.KeyBrokerService_ReportFailure_FullMethodName,
			protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), strings.Repeat("p", 1<<20)), codes.ResourceExhausted, "request too large"},
	}
	for _, tc := range cases {
		err := invokeRaw(as(tc.token), conn, tc.method, tc.body)
		if status.Code(err) != tc.code || !strings.Contains(status.Convert(err).Message(), tc.msg) {
			t.Errorf("%s = %v, want %v %q", tc.name, err, tc.code, tc.msg)
		}
	}
	// Within the bounds, calls still work.
	c := pb.NewKeyBrokerServiceClient(conn)
	ids := make([]string, maxKeyIDsPerCall)
	for i := range ids {
		ids[i] = "00000000000000ff"
	}
	if _, err := c.Remove(as(matrixAdminToken), &pb.RemoveRequest{Pool: matrixPool, KeyIds: ids}); err != nil {
		t.Errorf("Remove of %d key ids: %v", len(ids), err)
	}
	if _, err := c.GetRandom(as(matrixClientToken), &pb.GetRandomRequest{Pool: matrixPool}); err != nil {
		t.Errorf("GetRandom after the refusals: %v", err)
	}
}
