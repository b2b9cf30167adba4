package client

import (
	"context"
	"math/rand/v2"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
)

// RetryPolicy says how a Client retries calls that fail with UNAVAILABLE:
// the broker is restarting, Redis is failing over (STORE_UNAVAILABLE), or
// every key of a pool is cooling down (NO_HEALTHY_KEY); and calls refused
// with RESOURCE_EXHAUSTED NO_BUDGET (every key spent its rate-limit
// budget), after exactly the RetryInfo's wait. Other codes are never
// retried: they will not change by trying again.
type RetryPolicy struct {
	// MaxAttempts is how many times a call is tried in all; 1 or less
	// means no retry.
	MaxAttempts int
	// InitialBackoff is the wait before the first retry; each further
	// retry waits up to twice as long (with full jitter), up to MaxBackoff.
	InitialBackoff time.Duration
	// MaxBackoff caps one wait, and also bounds the broker's RetryInfo: a
	// status asking for a longer wait (a pool cooling down for a minute) is
	// returned at once, so the caller decides instead of blocking.
	MaxBackoff time.Duration
}

// DefaultRetryPolicy tries a call up to 4 times, waiting 50ms, 100ms,
// 200ms (jittered) or what the broker's RetryInfo asks, never more than 1s
// at a time and never past the call's deadline.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{MaxAttempts: 4, InitialBackoff: 50 * time.Millisecond, MaxBackoff: time.Second}
}

// interceptor retries UNAVAILABLE per the policy.
func (p RetryPolicy) interceptor() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		for attempt := 1; ; attempt++ {
			err := invoker(ctx, method, req, reply, cc, opts...)
			if !retriable(err) || attempt >= p.MaxAttempts {
				return err
			}
			wait, ok := p.wait(ctx, attempt, err)
			if !ok || !sleep(ctx, wait) {
				return err
			}
		}
	}
}

// retriable reports whether waiting may help: UNAVAILABLE, and a pool's
// keys out of budget (RESOURCE_EXHAUSTED NO_BUDGET), which says when
// they have budget again and is retried only then.
func retriable(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable:
		return true
	case codes.ResourceExhausted:
		return Reason(err) == pb.ErrorReason_ERROR_REASON_NO_BUDGET && RetryDelay(err) > 0
	}
	return false
}

// wait is how long to wait before retry number attempt, and whether to
// retry at all: not when the broker asks for more than MaxBackoff, nor when
// the wait would outlast the deadline.
func (p RetryPolicy) wait(ctx context.Context, attempt int, err error) (time.Duration, bool) {
	var d time.Duration
	if ri := RetryDelay(err); ri > 0 {
		if ri > p.MaxBackoff {
			return 0, false
		}
		d = ri
	} else {
		ceiling := min(p.InitialBackoff<<(attempt-1), p.MaxBackoff)
		d = time.Duration(rand.Int64N(int64(ceiling) + 1))
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= d {
		return 0, false
	}
	return d, true
}

// deadlineInterceptor gives calls without a deadline the default one, so
// that a broker that does not answer cannot hold a request forever.
func deadlineInterceptor(d time.Duration) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if _, ok := ctx.Deadline(); !ok && d > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, d)
			defer cancel()
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	}
}

// sleep waits for d or until ctx ends, reporting whether it waited.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
