package client

import (
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/status"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
)

// errorDomain is the google.rpc.ErrorInfo domain of keybroker's errors.
const errorDomain = "keybroker"

// reasonPrefix is the part of an ErrorReason value's name that
// ErrorInfo.reason leaves out, as the proto documents.
const reasonPrefix = "ERROR_REASON_"

// Reason returns the reason of the keybroker ErrorInfo carried by a call's
// error as the API's ErrorReason (pb.ErrorReason_ERROR_REASON_POOL_EMPTY,
// …), so that callers branch on declared values. It is
// ERROR_REASON_UNSPECIFIED when the error carries no keybroker ErrorInfo
// or a reason this client does not know (a newer broker's); act on the
// gRPC code then. It sees through wrapped errors, such as Transport's.
func Reason(err error) pb.ErrorReason {
	return ParseReason(ErrorReason(err))
}

// ErrorReason returns the reason string of the keybroker ErrorInfo carried
// by a call's error, or "" when it has none: the ErrorReason value's name
// without its ERROR_REASON_ prefix ("POOL_EMPTY", "NO_HEALTHY_KEY",
// "KEY_UNKNOWN", "LEASE_UNKNOWN", "LEASE_EXPIRED", "STORE_UNAVAILABLE").
// Prefer Reason, which gives the enum.
func ErrorReason(err error) string {
	for _, d := range details(err) {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetDomain() == errorDomain {
			return info.GetReason()
		}
	}
	return ""
}

// ReasonString is the ErrorInfo reason string the broker sends for r:
// ERROR_REASON_POOL_EMPTY travels as "POOL_EMPTY". It is "" for
// ERROR_REASON_UNSPECIFIED and for numbers the API does not declare.
func ReasonString(r pb.ErrorReason) string {
	name, ok := pb.ErrorReason_name[int32(r)]
	if !ok || r == pb.ErrorReason_ERROR_REASON_UNSPECIFIED {
		return ""
	}
	return strings.TrimPrefix(name, reasonPrefix)
}

// ParseReason reads an ErrorInfo reason string into the enum:
// ParseReason("POOL_EMPTY") is ERROR_REASON_POOL_EMPTY, and a reason the
// API does not declare is ERROR_REASON_UNSPECIFIED.
func ParseReason(s string) pb.ErrorReason {
	if s == "" || strings.HasPrefix(s, reasonPrefix) {
		return pb.ErrorReason_ERROR_REASON_UNSPECIFIED
	}
	return pb.ErrorReason(pb.ErrorReason_value[reasonPrefix+s])
}

// RetryDelay returns how long the broker asked the caller to wait before
// trying again (google.rpc.RetryInfo), or 0 when it did not say.
func RetryDelay(err error) time.Duration {
	for _, d := range details(err) {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			return ri.GetRetryDelay().AsDuration()
		}
	}
	return 0
}

func details(err error) []any {
	st, ok := status.FromError(err)
	if !ok || err == nil {
		return nil
	}
	return st.Details()
}
