package client

import (
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
)

// Option configures a Client.
type Option func(*settings)

// settings are a Client's knobs, filled with defaults by New.
type settings struct {
	timeout  time.Duration
	retry    RetryPolicy
	token    string
	creds    credentials.TransportCredentials
	dialOpts []grpc.DialOption
	insecure bool
}

// DefaultTimeout is the deadline of a call whose context has none. The
// broker answers in milliseconds; a call that takes seconds is better
// failed than left to hold up the request that needs a key.
const DefaultTimeout = 5 * time.Second

func defaultSettings() settings {
	return settings{
		timeout: DefaultTimeout,
		retry:   DefaultRetryPolicy(),
		creds:   insecure.NewCredentials(),
	}
}

// keepaliveParams pings an idle connection so that a broker that vanished
// (a sidecar restarted, a pod moved) is noticed before the next request
// needs it. Time stays above the broker's enforcement minimum (10s), which
// answers more frequent pings by closing the connection.
var keepaliveParams = keepalive.ClientParameters{
	Time:                30 * time.Second,
	Timeout:             10 * time.Second,
	PermitWithoutStream: true,
}

// WithTimeout sets the deadline given to calls whose context has none (the
// default is DefaultTimeout). It spans all retries of the call. Zero or
// less leaves such calls without a deadline.
func WithTimeout(d time.Duration) Option {
	return func(s *settings) { s.timeout = d }
}

// WithRetryPolicy replaces DefaultRetryPolicy. A policy with MaxAttempts 1
// turns retries off.
func WithRetryPolicy(p RetryPolicy) Option {
	return func(s *settings) { s.retry = p }
}

// WithInsecure lets New send a bearer token over a plaintext connection to
// a broker that is not on loopback or a unix socket, where anyone on the
// path can read the token. Never in production; use TLS
// (WithTransportCredentials) instead.
func WithInsecure() Option {
	return func(s *settings) { s.insecure = true }
}

// WithBearerToken sends "authorization: Bearer <token>" metadata on every
// call, for a broker that requires a token. Over plaintext the token is
// sent only to a broker on loopback or a unix socket (a sidecar); New
// refuses any other address unless WithInsecure is given. Use
// WithTransportCredentials for anything that crosses a network.
func WithBearerToken(token string) Option {
	return func(s *settings) { s.token = token }
}

// WithTransportCredentials sets the connection's security, for example
// credentials.NewTLS. The default is plaintext, as for a sidecar.
func WithTransportCredentials(c credentials.TransportCredentials) Option {
	return func(s *settings) { s.creds = c }
}

// WithDialOptions adds gRPC dial options (interceptors, stats handlers),
// applied after the Client's own so that they can override them.
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(s *settings) { s.dialOpts = append(s.dialOpts, opts...) }
}
