package server

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"log/slog"
	"net"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/auth"
	"github.com/keybroker/keybroker/internal/lease"
	"github.com/keybroker/keybroker/internal/redistest"
	"github.com/keybroker/keybroker/internal/secret"
	"github.com/keybroker/keybroker/internal/store"
	"github.com/keybroker/keybroker/internal/testpki"
	"github.com/keybroker/keybroker/internal/tlsreload"
)

const (
	matrixClientToken     = "client-token-for-pool-p-0001"
	matrixOtherPoolToken  = "client-token-for-pool-q-0002"
	matrixAdminToken      = "admin-token-all-pools-00003"
	matrixPoolAdminToken  = "admin-token-pool-q-only-004"
	matrixPool, matrixKey = "p", "sk-matrix-secret-0000000001"
	matrixCertClientCN    = "app-client"
	matrixCertAdminDNS    = "ops.admin.internal"
	matrixUnmappedCertCN  = "stranger"
)

// secureBroker serves the service over TLS with token and certificate
// authentication, as `keybroker serve --tls-* --auth-file` does.
type secureBroker struct {
	addr  string
	ca    *testpki.CA
	keyID string
}

func startSecureBroker(t *testing.T) *secureBroker {
	t.Helper()
	d := redistest.Deploy(t)
	conn, err := store.Open(t.Context(), store.RedisConfig{Addrs: d.Addrs, MasterName: d.MasterName})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	st := conn.Store(secret.NewIDs([]byte("k")))
	added, err := st.Add(context.Background(), matrixPool, []string{matrixKey})
	if err != nil {
		t.Fatal(err)
	}

	pol := &auth.Policy{}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(pol.AddToken(auth.Principal{Name: "client-p", Role: auth.RoleClient, Pools: []string{matrixPool}}, sha256.Sum256([]byte(matrixClientToken))))
	must(pol.AddToken(auth.Principal{Name: "client-q", Role: auth.RoleClient, Pools: []string{"q"}}, sha256.Sum256([]byte(matrixOtherPoolToken))))
	must(pol.AddToken(auth.Principal{Name: "admin", Role: auth.RoleAdmin}, sha256.Sum256([]byte(matrixAdminToken))))
	must(pol.AddToken(auth.Principal{Name: "admin-q", Role: auth.RoleAdmin, Pools: []string{"q"}}, sha256.Sum256([]byte(matrixPoolAdminToken))))
	must(pol.AddCert(auth.CertRule{Principal: auth.Principal{Name: "cert-client", Role: auth.RoleClient}, CN: matrixCertClientCN}))
	must(pol.AddCert(auth.CertRule{Principal: auth.Principal{Name: "cert-admin", Role: auth.RoleAdmin}, DNSSAN: matrixCertAdminDNS}))

	ca := testpki.NewCA(t, "matrix-ca")
	srvCert := ca.Server("broker")
	files, err := tlsreload.Load(srvCert.CertFile, srvCert.KeyFile, ca.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	svc := New(st, lease.NewSigner([]byte("l")))
	cfg := DefaultGRPCConfig()
	cfg.Auth, cfg.Creds = pol, credentials.NewTLS(files.ServerConfig())
	gs := NewGRPCServer(svc, health.NewServer(), slog.New(slog.DiscardHandler), cfg)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = gs.Serve(lis) }() // nil after Stop; a dead listener fails the test's RPCs
	t.Cleanup(gs.Stop)
	return &secureBroker{addr: lis.Addr().String(), ca: ca, keyID: added.KeyIDs[0]}
}

// dial connects over TLS, presenting cert when given.
func (b *secureBroker) dial(t *testing.T, cert *tls.Certificate) *grpc.ClientConn {
	t.Helper()
	tc := &tls.Config{RootCAs: b.ca.Pool, ServerName: "127.0.0.1"}
	if cert != nil {
		tc.Certificates = []tls.Certificate{*cert}
	}
	conn, err := grpc.NewClient(b.addr, grpc.WithTransportCredentials(credentials.NewTLS(tc)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// every RPC, each with a request that succeeds when allowed.
func (b *secureBroker) calls() map[string]func(context.Context, pb.KeyBrokerServiceClient) error {
	return map[string]func(context.Context, pb.KeyBrokerServiceClient) error{
		"GetRandom": func(ctx context.Context, c pb.KeyBrokerServiceClient) error {
			_, err := c.GetRandom(ctx, &pb.GetRandomRequest{Pool: matrixPool})
			return err
		},
		"ReportFailure": func(ctx context.Context, c pb.KeyBrokerServiceClient) error {
			_, err := c.ReportFailure(ctx, &pb.ReportFailureRequest{Pool: matrixPool, Key: &pb.ReportFailureRequest_KeyId{KeyId: b.keyID}, HttpStatus: 503})
			return err
		},
		"GetAll": func(ctx context.Context, c pb.KeyBrokerServiceClient) error {
			_, err := c.GetAll(ctx, &pb.GetAllRequest{Pool: matrixPool, Reveal: true})
			return err
		},
		"Add": func(ctx context.Context, c pb.KeyBrokerServiceClient) error {
			_, err := c.Add(ctx, &pb.AddRequest{Pool: matrixPool, Secrets: []string{matrixKey}})
			return err
		},
		"Remove": func(ctx context.Context, c pb.KeyBrokerServiceClient) error {
			_, err := c.Remove(ctx, &pb.RemoveRequest{Pool: matrixPool, KeyIds: []string{"00000000000000ff"}})
			return err
		},
		"ListPools": func(ctx context.Context, c pb.KeyBrokerServiceClient) error {
			_, err := c.ListPools(ctx, &pb.ListPoolsRequest{})
			return err
		},
		"Restore": func(ctx context.Context, c pb.KeyBrokerServiceClient) error {
			_, err := c.Restore(ctx, &pb.RestoreRequest{Pool: matrixPool, KeyIds: []string{"00000000000000ff"}})
			return err
		},
		"ReleaseRemovals": func(ctx context.Context, c pb.KeyBrokerServiceClient) error {
			_, err := c.ReleaseRemovals(ctx, &pb.ReleaseRemovalsRequest{Pool: matrixPool})
			return err
		},
		"ReportUsage": func(ctx context.Context, c pb.KeyBrokerServiceClient) error {
			_, err := c.ReportUsage(ctx, &pb.ReportUsageRequest{Pool: matrixPool, Usages: []*pb.Usage{{LeaseId: "forged"}}})
			return err
		},
		"GetKeyHistory": func(ctx context.Context, c pb.KeyBrokerServiceClient) error {
			_, err := c.GetKeyHistory(ctx, &pb.GetKeyHistoryRequest{Pool: matrixPool, KeyId: b.keyID})
			return err
		},
		"GetStatus": func(ctx context.Context, c pb.KeyBrokerServiceClient) error {
			_, err := c.GetStatus(ctx, &pb.GetStatusRequest{})
			return err
		},
		// The pool holds a key, so an admin's call is refused for that,
		// after authorization: past the check is what this matrix asks.
		"DeletePool": func(ctx context.Context, c pb.KeyBrokerServiceClient) error {
			_, err := c.DeletePool(ctx, &pb.DeletePoolRequest{Pool: matrixPool})
			if status.Code(err) == codes.FailedPrecondition {
				return nil
			}
			return err
		},
	}
}

// Every RPC of the service is in the matrix, so a new one cannot ship
// without saying who may call it.
func TestAuthorizationMatrixCoversEveryRPC(t *testing.T) {
	calls := (&secureBroker{}).calls()
	for _, m := range pb.KeyBrokerService_ServiceDesc.Methods {
		if _, ok := calls[m.MethodName]; !ok {
			t.Errorf("%s is not in the authorization matrix", m.MethodName)
		}
	}
}

func TestAuthorizationMatrix(t *testing.T) {
	b := startSecureBroker(t)
	clientCert := b.ca.Client(matrixCertClientCN)
	adminCert := b.ca.Client("ops", matrixCertAdminDNS)
	unmapped := b.ca.Client(matrixUnmappedCertCN)

	const ok, unauth, denied = codes.OK, codes.Unauthenticated, codes.PermissionDenied
	clientOnly := map[string]codes.Code{"GetRandom": ok, "ReportFailure": ok, "ReportUsage": ok, "GetAll": denied, "Add": denied, "Remove": denied,
		"ListPools": denied, "Restore": denied, "ReleaseRemovals": denied, "GetKeyHistory": denied, "GetStatus": denied, "DeletePool": denied}
	all := func(c codes.Code) map[string]codes.Code {
		return map[string]codes.Code{"GetRandom": c, "ReportFailure": c, "ReportUsage": c, "GetAll": c, "Add": c, "Remove": c, "ListPools": c,
			"Restore": c, "ReleaseRemovals": c, "GetKeyHistory": c, "GetStatus": c, "DeletePool": c}
	}
	callers := []struct {
		name   string
		token  string
		cert   *tls.Certificate
		expect map[string]codes.Code
	}{
		{"no credentials", "", nil, all(unauth)},
		{"bad token", "not-a-token-at-all-000", nil, all(unauth)},
		{"client token", matrixClientToken, nil, clientOnly},
		{"client token for another pool", matrixOtherPoolToken, nil, all(denied)},
		{"admin token", matrixAdminToken, nil, all(ok)},
		{"mTLS client", "", &clientCert.TLS, clientOnly},
		{"mTLS admin", "", &adminCert.TLS, all(ok)},
		{"mTLS unmapped certificate", "", &unmapped.TLS, all(unauth)},
		{"bad token beats a good certificate", "not-a-token-at-all-000", &adminCert.TLS, all(unauth)},
	}
	for _, caller := range callers {
		conn := b.dial(t, caller.cert)
		client := pb.NewKeyBrokerServiceClient(conn)
		for rpc, call := range b.calls() {
			t.Run(caller.name+"/"+rpc, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				if caller.token != "" {
					ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+caller.token)
				}
				err := call(ctx, client)
				if got := status.Code(err); got != caller.expect[rpc] {
					t.Fatalf("%s by %s = %v, want %v", rpc, caller.name, err, caller.expect[rpc])
				}
			})
		}
	}
}

func TestHealthAndReflectionStayOpen(t *testing.T) {
	b := startSecureBroker(t)
	conn := b.dial(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("health without credentials: %v", err)
	}
	stream, err := grpc_reflection_v1.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&grpc_reflection_v1.ServerReflectionRequest{MessageRequest: &grpc_reflection_v1.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatalf("reflection without credentials: %v", err)
	}
}

func TestCertificateFromAnotherCAIsRefused(t *testing.T) {
	b := startSecureBroker(t)
	rogue := testpki.NewCA(t, "rogue").Client(matrixCertClientCN)
	client := pb.NewKeyBrokerServiceClient(b.dial(t, &rogue.TLS))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := client.GetRandom(ctx, &pb.GetRandomRequest{Pool: matrixPool})
	if code := status.Code(err); code == codes.OK || code == codes.PermissionDenied {
		t.Fatalf("a certificate from another CA got %v", err)
	}
}

// The audit trail names the authenticated caller behind each change.
func TestAuditTrailNamesTheCaller(t *testing.T) {
	b := startSecureBroker(t)
	c := pb.NewKeyBrokerServiceClient(b.dial(t, nil))
	as := func(tok string) context.Context {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		t.Cleanup(cancel)
		return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
	}
	added, err := c.Add(as(matrixAdminToken), &pb.AddRequest{Pool: matrixPool, Secrets: []string{"sk-audit-actor-000000001"}})
	if err != nil {
		t.Fatal(err)
	}
	id := added.GetKeyIds()[0]
	if _, err := c.ReportFailure(as(matrixClientToken), &pb.ReportFailureRequest{Pool: matrixPool, Key: &pb.ReportFailureRequest_KeyId{KeyId: id}, HttpStatus: 429}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Remove(as(matrixAdminToken), &pb.RemoveRequest{Pool: matrixPool, KeyIds: []string{id}}); err != nil {
		t.Fatal(err)
	}
	h, err := c.GetKeyHistory(as(matrixAdminToken), &pb.GetKeyHistoryRequest{Pool: matrixPool, KeyId: id})
	if err != nil {
		t.Fatal(err)
	}
	var actors []string
	for _, e := range h.GetEvents() {
		actors = append(actors, e.GetState().String()+" by "+e.GetActor())
	}
	slices.Sort(actors)
	want := []string{"KEY_STATE_ACTIVE by admin:admin", "KEY_STATE_COOLING_DOWN by report:client-p", "KEY_STATE_REMOVED by admin:admin"}
	if !slices.Equal(actors, want) {
		t.Fatalf("history = %q, want %q", actors, want)
	}
	if _, err := c.GetKeyHistory(as(matrixClientToken), &pb.GetKeyHistoryRequest{Pool: matrixPool, KeyId: id}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("a client reading history: %v, want PERMISSION_DENIED", err)
	}
}

// ListPools shows a pool-limited admin only its pools.
func TestListPoolsHonoursPoolLimits(t *testing.T) {
	b := startSecureBroker(t)
	c := pb.NewKeyBrokerServiceClient(b.dial(t, nil))
	as := func(tok string) context.Context {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		t.Cleanup(cancel)
		return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
	}
	if _, err := c.Add(as(matrixPoolAdminToken), &pb.AddRequest{Pool: "q", Secrets: []string{"sk-pool-q-only-0000000001"}}); err != nil {
		t.Fatal(err)
	}
	names := func(tok string) []string {
		resp, err := c.ListPools(as(tok), &pb.ListPoolsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, p := range resp.GetPools() {
			out = append(out, p.GetPool())
		}
		return out
	}
	if got := names(matrixAdminToken); !slices.Equal(got, []string{matrixPool, "q"}) {
		t.Errorf("admin sees %v, want both pools", got)
	}
	if got := names(matrixPoolAdminToken); !slices.Equal(got, []string{"q"}) {
		t.Errorf("pool-limited admin sees %v, want only q", got)
	}
}
