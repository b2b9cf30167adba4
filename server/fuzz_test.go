package server

import (
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/config"
	"github.com/keybroker/keybroker/internal/secret"
)

// checkInvalid fails unless err is INVALID_ARGUMENT whose BadRequest names
// a field, and whose message does not repeat secretText.
func checkInvalid(t *testing.T, err error, secretText string) {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument {
		t.Fatalf("validation error %v is not INVALID_ARGUMENT", err)
	}
	named := false
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok && len(br.GetFieldViolations()) > 0 && br.GetFieldViolations()[0].GetField() != "" {
			named = true
		}
	}
	if !named {
		t.Fatalf("validation error %v names no field", err)
	}
	if s := strings.TrimSpace(secretText); len(s) >= 6 && strings.Contains(st.Message(), s) {
		t.Fatalf("validation error repeats the secret: %v", err)
	}
}

// FuzzRequestValidation throws hostile strings at every check that runs
// before a request touches Redis: nothing panics, every refusal is
// INVALID_ARGUMENT naming its field without echoing a secret, and what is
// accepted is what the store can safely hold.
func FuzzRequestValidation(f *testing.F) {
	f.Add("pool-1", "sk-abc", "0123456789abcdef", "", int32(429), "rate_limit_exceeded", "msg", int64(5), int32(3), int32(1))
	f.Add("", " ", "XYZ", "djF8cHw", int32(42), "\xff", "", int64(-1), int32(99), int32(-5))
	f.Add("{x}", "a\x00b", "0123456789ABCDEF", "!!", int32(600), strings.Repeat("e", 300), strings.Repeat("m", 5000), int64(1), int32(0), int32(7))
	f.Fuzz(func(t *testing.T, pool, sec, keyID, token string, httpStatus int32, code, msg string, retrySec int64, kind, state int32) {
		if err := validatePool(pool); err != nil {
			checkInvalid(t, err, "")
		} else if !config.ValidPoolName(pool) || strings.ContainsAny(pool, "{}:") {
			t.Fatalf("accepted pool %q", pool)
		}

		if out, err := normalizeSecrets("secrets", []string{sec}); err != nil {
			checkInvalid(t, err, sec)
		} else if out[0] == "" || strings.ContainsAny(out[0], " \t\r\n") || len(out[0]) > secret.MaxLen {
			t.Fatalf("accepted secret %q", out[0])
		}

		if err := validateKeyID("key_id", keyID); err == nil && !secret.ValidID(keyID) {
			t.Fatalf("accepted key id %q", keyID)
		} else if err != nil {
			checkInvalid(t, err, "")
		}

		st := pb.KeyState(state)
		if after, err := decodePageToken(token, pool, st); err != nil {
			checkInvalid(t, err, "")
		} else if token != "" && !secret.ValidID(after) {
			t.Fatalf("page token %q decoded to %q", token, after)
		}
		if secret.ValidID(keyID) && config.ValidPoolName(pool) { // GetAll checks the pool first
			if after, err := decodePageToken(encodePageToken(pool, st, keyID), pool, st); err != nil || after != keyID {
				t.Fatalf("page token round trip: %q, %v", after, err)
			}
		}

		req := &pb.ReportFailureRequest{HttpStatus: httpStatus, ErrorCode: code, ErrorMessage: msg,
			RetryAfter: &durationpb.Duration{Seconds: retrySec}, Kind: pb.FailureKind(kind)}
		if obs, _, err := observation(req); err != nil {
			checkInvalid(t, err, "")
		} else if obs.HTTPStatus != 0 && (obs.HTTPStatus < 100 || obs.HTTPStatus > 599) || obs.RetryAfter < 0 {
			t.Fatalf("accepted observation %+v", obs)
		}
	})
}
