package bench

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/lease"
	"github.com/keybroker/keybroker/internal/store"
)

// The two references GetRandom is measured against, served from this
// process beside the brokers (so their CPU time and allocations are read
// the same way):
//
//   - bare: a grpc-go server with no options and no interceptors, the same
//     proto service, GetRandom answering canned responses of the same size
//     as a broker's from a slice. What gRPC itself costs.
//   - seed: the seed design, a grpc-go server with no interceptors whose
//     GetRandom does one SRANDMEMBER per call on a plain Redis set of the
//     secrets, answering the secret in a response of the same shape.
type refServer struct {
	addr string
	stop func()
}

// seedSetKey is the seed design's plain set of the small pool's secrets.
const seedSetKey = "seed:{" + poolSmall + "}:keys"

// startRef serves svc on loopback with a bare grpc-go server.
func startRef(svc pb.KeyBrokerServiceServer) (*refServer, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for a reference server: %w", err)
	}
	srv := grpc.NewServer()
	pb.RegisterKeyBrokerServiceServer(srv, svc)
	go func() { _ = srv.Serve(lis) }()
	return &refServer{addr: lis.Addr().String(), stop: srv.Stop}, nil
}

// cannedResponses are n responses shaped like a broker's on the small
// pool: a 51-byte secret, a 16-hex key id, a lease id and its expiry.
func cannedResponses(n int) []*pb.GetRandomResponse {
	out := make([]*pb.GetRandomResponse, n)
	expire := timestamppb.New(time.Now().Add(5 * time.Minute))
	for i := range out {
		out[i] = &pb.GetRandomResponse{
			Secret: benchSecret(poolSmall, i),
			KeyId:  fmt.Sprintf("%016x", 0xb0a7d0000000000+i),
			Lease: &pb.Lease{
				LeaseId:    strings.Repeat(string(rune('A'+i%26)), lease.IDLen),
				ExpireTime: expire,
			},
		}
	}
	return out
}

// bareService answers GetRandom from a slice of canned responses.
type bareService struct {
	pb.UnimplementedKeyBrokerServiceServer
	canned []*pb.GetRandomResponse
	next   atomic.Uint64
}

// GetRandom returns the next canned response.
func (s *bareService) GetRandom(context.Context, *pb.GetRandomRequest) (*pb.GetRandomResponse, error) {
	return s.canned[s.next.Add(1)%uint64(len(s.canned))], nil
}

// seedService is the seed design's GetRandom: one SRANDMEMBER per call.
type seedService struct {
	pb.UnimplementedKeyBrokerServiceServer
	set    *store.PlainSet
	canned *pb.GetRandomResponse // key id and lease of the right size
}

// GetRandom returns a random member of the plain set.
func (s *seedService) GetRandom(ctx context.Context, _ *pb.GetRandomRequest) (*pb.GetRandomResponse, error) {
	secret, err := s.set.Random(ctx)
	if err != nil {
		return nil, err
	}
	return &pb.GetRandomResponse{Secret: secret, KeyId: s.canned.GetKeyId(), Lease: s.canned.GetLease()}, nil
}

// startRefs starts the bare and the seed reference servers; the seed
// server gets a Redis connection of its own, like a broker.
func (b *bench) startRefs(ctx context.Context) error {
	canned := cannedResponses(smallKeys)
	var err error
	if b.bare, err = startRef(&bareService{canned: canned}); err != nil {
		return err
	}
	conn, err := store.Open(ctx, store.RedisConfig{Addrs: []string{b.redis.Addr}, Timeout: time.Second})
	if err != nil {
		return err
	}
	set := conn.PlainSet(seedSetKey)
	secrets := make([]string, smallKeys)
	for i := range secrets {
		secrets[i] = benchSecret(poolSmall, i)
	}
	if err := set.Reset(ctx, secrets); err != nil {
		conn.Close()
		return err
	}
	seed, err := startRef(&seedService{set: set, canned: canned[0]})
	if err != nil {
		conn.Close()
		return err
	}
	b.seedRef = &refServer{addr: seed.addr, stop: func() { seed.stop(); conn.Close() }}
	return nil
}
