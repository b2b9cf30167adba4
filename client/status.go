package client

import (
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/status"
)

// ErrorReason returns the reason of the keybroker ErrorInfo carried by a
// call's error, or "" when it has none. The reasons are stable API, listed
// in the proto: POOL_EMPTY, NO_HEALTHY_KEY, NO_BUDGET, KEY_UNKNOWN, LEASE_UNKNOWN,
// LEASE_EXPIRED, STORE_UNAVAILABLE. It sees through wrapped errors, such as
// Transport's.
func ErrorReason(err error) string {
	for _, d := range details(err) {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetDomain() == "keybroker" {
			return info.GetReason()
		}
	}
	return ""
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
