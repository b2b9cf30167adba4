package server

import (
	"context"
	"fmt"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
)

// DefaultMaxRequestBytes bounds a request of any method not listed in
// requestLimits (health, reflection): they are a few bytes.
const DefaultMaxRequestBytes = 64 << 10

// requestLimit is what one request type may carry: its encoded size, and
// how many entries each of its repeated fields may hold. Both are checked
// on the wire bytes before anything is decoded, because decoding is where a
// small request grows: 8 MiB of empty strings in a repeated field decodes
// into 4 million string headers (64 MB) and a slice grown to hold them.
type requestLimit struct {
	bytes    int
	repeated map[protowire.Number]fieldLimit
}

// fieldLimit bounds one repeated field; packed scalars count one entry per
// varint inside the packed run.
type fieldLimit struct {
	name   string
	max    int
	packed bool
}

// requestLimits holds each keybroker request's bounds: the calls clients
// make are small; Add and Remove are the bulk calls (admin only, and
// authenticated before their body is read) and carry at most
// maxSecretsPerCall / maxKeyIDsPerCall entries.
func requestLimits(maxRecv int) map[protoreflect.FullName]requestLimit {
	name := func(m proto.Message) protoreflect.FullName { return m.ProtoReflect().Descriptor().FullName() }
	small := requestLimit{bytes: 4 << 10}
	return map[protoreflect.FullName]requestLimit{
		name(&pb.GetRandomRequest{}):     small,
		name(&pb.GetAllRequest{}):        small,
		name(&pb.ListPoolsRequest{}):     small,
		name(&pb.GetKeyHistoryRequest{}): small,
		// error_message (4 KiB) plus the short fields.
		name(&pb.ReportFailureRequest{}): {bytes: 16 << 10},
		name(&pb.AddRequest{}): {bytes: maxRecv, repeated: map[protowire.Number]fieldLimit{
			2: {name: "secrets", max: maxSecretsPerCall},
			3: {name: "weights", max: maxSecretsPerCall, packed: true},
		}},
		name(&pb.RemoveRequest{}): {bytes: 2 << 20, repeated: map[protowire.Number]fieldLimit{
			2: {name: "key_ids", max: maxKeyIDsPerCall},
			3: {name: "secrets", max: maxKeyIDsPerCall},
		}},
		name(&pb.RestoreRequest{}): {bytes: 2 << 20, repeated: map[protowire.Number]fieldLimit{
			2: {name: "key_ids", max: maxKeyIDsPerCall},
		}},
		name(&pb.ReleaseRemovalsRequest{}): small,
		name(&pb.DeletePoolRequest{}):      small,
		name(&pb.GetStatusRequest{}):       small,
		// maxUsagesPerCall usages of a lease id and a few numbers each.
		name(&pb.ReportUsageRequest{}): {bytes: 1 << 20, repeated: map[protowire.Number]fieldLimit{
			2: {name: "usages", max: maxUsagesPerCall},
		}},
	}
}

// limitCodec is the proto codec with requestLimits checked before each
// request is decoded. It replaces grpc-go's codec on the server only.
//
// grpc-go turns any codec error into INTERNAL and sends it itself, which
// blames the broker for the caller's bytes and trips server-error alerts.
// So a keybroker request over its limit, or one that cannot be decoded
// (malformed protobuf, a string field that is not UTF-8), is not an error
// here: it is recorded in refused, and boundedHandlers (which wraps every
// keybroker method's decoding) answers RESOURCE_EXHAUSTED or
// INVALID_ARGUMENT, which tells the caller what to fix. Messages of other
// services (health, reflection) fail as grpc-go would.
type limitCodec struct {
	encoding.CodecV2
	limits  map[protoreflect.FullName]requestLimit
	refused *sync.Map // request message → error
}

func newLimitCodec(maxRecv int) limitCodec {
	return limitCodec{CodecV2: encoding.GetCodecV2("proto"), limits: requestLimits(maxRecv), refused: &sync.Map{}}
}

// Unmarshal checks data against v's limits, then decodes it.
func (c limitCodec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(proto.Message)
	if !ok {
		return c.CodecV2.Unmarshal(data, v)
	}
	lim, known := c.limits[m.ProtoReflect().Descriptor().FullName()]
	if !known {
		lim = requestLimit{bytes: DefaultMaxRequestBytes}
	}
	err := c.check(data, m, lim)
	switch {
	case err != nil && known:
		c.refused.Store(m, err)
		return nil
	case err != nil:
		return err
	}
	buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
	defer buf.Free()
	err = proto.Unmarshal(buf.ReadOnlyData(), m)
	if err != nil && m.ProtoReflect().Descriptor().ParentFile().Package() == "keybroker.v1" {
		c.refused.Store(m, status.Error(codes.InvalidArgument, "request is not a valid message: malformed protobuf, or a string field that is not UTF-8"))
		return nil
	}
	return err
}

func (c limitCodec) check(data mem.BufferSlice, m proto.Message, lim requestLimit) error {
	name := m.ProtoReflect().Descriptor().Name()
	if n := data.Len(); n > lim.bytes {
		return fmt.Errorf("%s is %d bytes, over its limit of %d", name, n, lim.bytes)
	}
	if len(lim.repeated) == 0 {
		return nil
	}
	buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
	defer buf.Free()
	return checkRepeated(buf.ReadOnlyData(), lim.repeated)
}

// checkRepeated counts the entries of the bounded repeated fields in the
// top level of an encoded message, without decoding it.
func checkRepeated(raw []byte, limits map[protowire.Number]fieldLimit) error {
	if len(limits) == 0 {
		return nil
	}
	counts := map[protowire.Number]int{}
	for len(raw) > 0 {
		num, typ, n := protowire.ConsumeTag(raw)
		if n < 0 {
			return nil // malformed: proto.Unmarshal reports it
		}
		raw = raw[n:]
		m := protowire.ConsumeFieldValue(num, typ, raw)
		if m < 0 {
			return nil
		}
		if lim, ok := limits[num]; ok {
			counts[num] += entries(lim, typ, raw[:m])
			if counts[num] > lim.max {
				return invalid(lim.name, "holds more than %d entries; split it into smaller calls", lim.max)
			}
		}
		raw = raw[m:]
	}
	return nil
}

// entries is how many repeated values one encoded field holds.
func entries(lim fieldLimit, typ protowire.Type, val []byte) int {
	if !lim.packed || typ != protowire.BytesType {
		return 1
	}
	body, _ := protowire.ConsumeBytes(val)
	n := 0
	for len(body) > 0 {
		_, k := protowire.ConsumeVarint(body)
		if k < 0 {
			break
		}
		body, n = body[k:], n+1
	}
	return n
}

// boundedHandlers returns desc with every unary handler's decoding
// answering for a request c refused: RESOURCE_EXHAUSTED when it was too
// large, INVALID_ARGUMENT when it held too many entries or could not be
// decoded.
func boundedHandlers(desc grpc.ServiceDesc, c limitCodec) *grpc.ServiceDesc {
	methods := make([]grpc.MethodDesc, len(desc.Methods))
	for i, md := range desc.Methods {
		h := md.Handler
		md.Handler = func(srv any, ctx context.Context, dec func(any) error, in grpc.UnaryServerInterceptor) (any, error) {
			return h(srv, ctx, c.limitedDecode(dec), in)
		}
		methods[i] = md
	}
	desc.Methods = methods
	return &desc
}

func (c limitCodec) limitedDecode(dec func(any) error) func(any) error {
	return func(v any) error {
		if err := dec(v); err != nil {
			return err
		}
		why, refused := c.refused.LoadAndDelete(v)
		if !refused {
			return nil
		}
		if _, isStatus := status.FromError(why.(error)); isStatus {
			return why.(error) // INVALID_ARGUMENT: too many entries
		}
		return status.Errorf(codes.ResourceExhausted, "request too large: %v; split it into smaller calls", why)
	}
}
