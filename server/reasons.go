package server

import (
	"strings"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
)

// reasonPrefix is the part of an ErrorReason value's name that
// ErrorInfo.reason leaves out, as the proto documents.
const reasonPrefix = "ERROR_REASON_"

// ReasonString is the google.rpc.ErrorInfo reason the broker sends for r:
// the enum value's name without its ERROR_REASON_ prefix, so
// ERROR_REASON_POOL_EMPTY travels as "POOL_EMPTY". It is "" for
// ERROR_REASON_UNSPECIFIED and for numbers the API does not declare.
func ReasonString(r pb.ErrorReason) string {
	name, ok := pb.ErrorReason_name[int32(r)]
	if !ok || r == pb.ErrorReason_ERROR_REASON_UNSPECIFIED {
		return ""
	}
	return strings.TrimPrefix(name, reasonPrefix)
}

// ParseReason reads an ErrorInfo reason back into the enum:
// ParseReason("POOL_EMPTY") is ERROR_REASON_POOL_EMPTY. A reason the API
// does not declare is ERROR_REASON_UNSPECIFIED.
func ParseReason(s string) pb.ErrorReason {
	if s == "" || strings.HasPrefix(s, reasonPrefix) {
		return pb.ErrorReason_ERROR_REASON_UNSPECIFIED
	}
	return pb.ErrorReason(pb.ErrorReason_value[reasonPrefix+s])
}
