package server_test

import (
	"testing"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/server"
)

// TestReasonsKeepTheirWireNames pins the ErrorInfo reason strings clients
// have branched on since before the enum existed: a renamed enum value
// must not change what travels.
func TestReasonsKeepTheirWireNames(t *testing.T) {
	wire := map[pb.ErrorReason]string{
		pb.ErrorReason_ERROR_REASON_POOL_EMPTY:           "POOL_EMPTY",
		pb.ErrorReason_ERROR_REASON_NO_HEALTHY_KEY:       "NO_HEALTHY_KEY",
		pb.ErrorReason_ERROR_REASON_KEY_UNKNOWN:          "KEY_UNKNOWN",
		pb.ErrorReason_ERROR_REASON_LEASE_UNKNOWN:        "LEASE_UNKNOWN",
		pb.ErrorReason_ERROR_REASON_LEASE_EXPIRED:        "LEASE_EXPIRED",
		pb.ErrorReason_ERROR_REASON_STORE_UNAVAILABLE:    "STORE_UNAVAILABLE",
		pb.ErrorReason_ERROR_REASON_NO_BUDGET:            "NO_BUDGET",
		pb.ErrorReason_ERROR_REASON_POOL_NOT_EMPTY:       "POOL_NOT_EMPTY",
		pb.ErrorReason_ERROR_REASON_POOL_UNKNOWN:         "POOL_UNKNOWN",
		pb.ErrorReason_ERROR_REASON_REPORTS_RATE_LIMITED: "REPORTS_RATE_LIMITED",
	}
	for n := range pb.ErrorReason_name {
		r := pb.ErrorReason(n)
		if r == pb.ErrorReason_ERROR_REASON_UNSPECIFIED {
			continue
		}
		want, ok := wire[r]
		if !ok {
			t.Errorf("%v has no pinned wire name: add it here", r)
			continue
		}
		if got := server.ReasonString(r); got != want {
			t.Errorf("ReasonString(%v) = %q, want %q", r, got, want)
		}
		if got := server.ParseReason(want); got != r {
			t.Errorf("ParseReason(%q) = %v, want %v", want, got, r)
		}
	}
	for _, s := range []string{"", "UNSPECIFIED", "ERROR_REASON_POOL_EMPTY", "pool_empty", "SOMETHING_NEW"} {
		if got := server.ParseReason(s); got != pb.ErrorReason_ERROR_REASON_UNSPECIFIED {
			t.Errorf("ParseReason(%q) = %v, want unspecified", s, got)
		}
	}
	if got := server.ReasonString(pb.ErrorReason_ERROR_REASON_UNSPECIFIED); got != "" {
		t.Errorf("ReasonString(unspecified) = %q", got)
	}
	if got := server.ReasonString(pb.ErrorReason(99)); got != "" {
		t.Errorf("ReasonString(99) = %q", got)
	}
}
