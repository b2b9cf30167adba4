package client

import (
	"context"
	"fmt"
	"iter"
	"strings"

	"google.golang.org/grpc"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
)

// Client calls a keybroker. It is safe for concurrent use; make one per
// broker and share it.
type Client struct {
	conn *grpc.ClientConn
	stub pb.KeyBrokerServiceClient
}

// New returns a Client for the broker at target: "host:port", or
// "unix:///path/to.sock" (also "unix:/path") for a sidecar on a socket.
// It does not connect until the first call, so a broker that starts later
// is fine. Close the Client when done.
func New(target string, opts ...Option) (*Client, error) {
	if strings.TrimSpace(target) == "" {
		return nil, fmt.Errorf("keybroker client: empty target; want host:port or unix:///path")
	}
	s := defaultSettings()
	for _, o := range opts {
		o(&s)
	}
	if err := checkTokenTransport(target, s); err != nil {
		return nil, err
	}
	dial := []grpc.DialOption{
		grpc.WithTransportCredentials(s.creds),
		grpc.WithKeepaliveParams(keepaliveParams),
		// The deadline interceptor runs first so that retries share it.
		grpc.WithChainUnaryInterceptor(deadlineInterceptor(s.timeout), s.retry.interceptor()),
	}
	if s.token != "" {
		dial = append(dial, grpc.WithPerRPCCredentials(bearerToken(s.token)))
	}
	conn, err := grpc.NewClient(target, append(dial, s.dialOpts...)...)
	if err != nil {
		return nil, fmt.Errorf("keybroker client for %q: %w", target, err)
	}
	return &Client{conn: conn, stub: pb.NewKeyBrokerServiceClient(conn)}, nil
}

// Close closes the connection. Calls in flight fail with CANCELED.
func (c *Client) Close() error { return c.conn.Close() }

// Stub returns the generated client over the same connection, deadlines
// and retries, for requests the typed methods do not cover.
func (c *Client) Stub() pb.KeyBrokerServiceClient { return c.stub }

// GetRandom leases one active key of pool: its secret, key id and lease.
// Use Reason and RetryDelay to tell an empty pool (ERROR_REASON_POOL_EMPTY)
// from a pool that is only cooling down (ERROR_REASON_NO_HEALTHY_KEY with a
// retry delay).
func (c *Client) GetRandom(ctx context.Context, pool string) (*pb.GetRandomResponse, error) {
	return c.stub.GetRandom(ctx, &pb.GetRandomRequest{Pool: pool})
}

// Add puts secrets (at most 10,000 per call) into pool, idempotently.
func (c *Client) Add(ctx context.Context, pool string, secrets []string) (*pb.AddResponse, error) {
	return c.stub.Add(ctx, &pb.AddRequest{Pool: pool, Secrets: secrets})
}

// Remove deletes keys from pool by key id. Ids not in the pool are
// reported as not found, not as an error.
func (c *Client) Remove(ctx context.Context, pool string, keyIDs []string) (*pb.RemoveResponse, error) {
	return c.stub.Remove(ctx, &pb.RemoveRequest{Pool: pool, KeyIds: keyIDs})
}

// Restore puts keys of a pool back into rotation (admin): the named key
// ids, or every quarantined key when all is set.
func (c *Client) Restore(ctx context.Context, pool string, keyIDs []string, all bool) (*pb.RestoreResponse, error) {
	return c.stub.Restore(ctx, &pb.RestoreRequest{Pool: pool, KeyIds: keyIDs, AllQuarantined: all})
}

// ReleaseRemovals lifts a pool's removal hold (admin): the keys the brake
// held back are quarantined.
func (c *Client) ReleaseRemovals(ctx context.Context, pool string) (*pb.ReleaseRemovalsResponse, error) {
	return c.stub.ReleaseRemovals(ctx, &pb.ReleaseRemovalsRequest{Pool: pool})
}

// ReportFailure tells the broker what the provider said when it refused a
// call made with a leased key; the broker classifies it and answers with
// what it made of it.
func (c *Client) ReportFailure(ctx context.Context, req *pb.ReportFailureRequest) (*pb.ReportFailureResponse, error) {
	return c.stub.ReportFailure(ctx, req)
}

// GetAll returns one page of a pool's keys.
func (c *Client) GetAll(ctx context.Context, req *pb.GetAllRequest) (*pb.GetAllResponse, error) {
	return c.stub.GetAll(ctx, req)
}

// ListPools lists every pool with its counts per state (admin).
func (c *Client) ListPools(ctx context.Context) (*pb.ListPoolsResponse, error) {
	return c.stub.ListPools(ctx, &pb.ListPoolsRequest{})
}

// Pages pages through GetAll from req's page token to the last page. Each
// page is its own call with its own deadline and retries; iteration stops
// at the first error, which is yielded.
func (c *Client) Pages(ctx context.Context, req *pb.GetAllRequest) iter.Seq2[*pb.GetAllResponse, error] {
	return func(yield func(*pb.GetAllResponse, error) bool) {
		next := &pb.GetAllRequest{Pool: req.GetPool(), PageSize: req.GetPageSize(), PageToken: req.GetPageToken(),
			State: req.GetState(), Reveal: req.GetReveal()}
		for {
			page, err := c.stub.GetAll(ctx, next)
			if !yield(page, err) || err != nil || page.GetNextPageToken() == "" {
				return
			}
			next.PageToken = page.GetNextPageToken()
		}
	}
}
