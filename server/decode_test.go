package server_test

import (
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// A caller with a valid client token sends bytes that are not a valid
// request: a string field with invalid UTF-8, a length past the end. The
// fault is the caller's (INVALID_ARGUMENT); grpc-go's default INTERNAL
// blamed the broker and tripped server-error alerts.
func TestUndecodableRequestsAreInvalidArgument(t *testing.T) {
	h := newHarness(t)
	for name, body := range map[string][]byte{
		"invalid UTF-8 pool": {0x0a, 0x02, 0xff, 0xfe},
		"length past end":    {0x0a, 0x10, 'p'},
	} {
		var out []byte
		err := h.conn.Invoke(h.ctx(t), "/keybroker.v1.KeyBrokerService/GetRandom", body, &out, grpc.ForceCodecV2(rawCodec{}))
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("%s: %v, want INVALID_ARGUMENT", name, err)
		}
	}
}
