package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/store"
)

// ErrorDomain is the google.rpc.ErrorInfo domain of every keybroker error.
const ErrorDomain = "keybroker"

// statusError builds a status carrying an ErrorInfo (reason as the proto's
// ErrorReason documents it) and, when waiting helps, a RetryInfo.
func statusError(code codes.Code, reason pb.ErrorReason, pool string, retry time.Duration, format string, args ...any) error {
	st := status.New(code, fmt.Sprintf(format, args...))
	info := &errdetails.ErrorInfo{Domain: ErrorDomain, Reason: ReasonString(reason), Metadata: map[string]string{"pool": pool}}
	var err error
	if retry > 0 {
		st, err = st.WithDetails(info, &errdetails.RetryInfo{RetryDelay: durationpb.New(retry)})
	} else {
		st, err = st.WithDetails(info)
	}
	if err != nil {
		return status.Error(code, fmt.Sprintf(format, args...))
	}
	return st.Err()
}

// invalid is INVALID_ARGUMENT naming the field to fix, with a BadRequest
// detail for clients that read them.
func invalid(field, format string, args ...any) error {
	desc := fmt.Sprintf(format, args...)
	st := status.New(codes.InvalidArgument, field+": "+desc)
	if d, err := st.WithDetails(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: field, Description: desc}}}); err == nil {
		st = d
	}
	return st.Err()
}

// storeFailure maps a store error to a status and logs its cause, which
// clients never see: unreachable or failing-over Redis is UNAVAILABLE (try
// again), anything else INTERNAL.
func (s *Service) storeFailure(ctx context.Context, op, pool string, err error) error {
	switch {
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "request canceled")
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil:
		return status.Error(codes.DeadlineExceeded, "deadline exceeded")
	}
	if store.IsUnavailable(err) {
		s.log.WarnContext(ctx, "key store unavailable", "op", op, "pool", pool, "err", err)
		return statusError(codes.Unavailable, pb.ErrorReason_ERROR_REASON_STORE_UNAVAILABLE, pool, time.Second, "key store unavailable; retry shortly")
	}
	s.log.ErrorContext(ctx, "key store failed", "op", op, "pool", pool, "err", err)
	return status.Error(codes.Internal, "internal error")
}
