package server

import (
	"context"
	"crypto/x509"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/auth"
)

// methodRoles is who may call what. Methods not listed need admin, so a new
// RPC is closed until someone decides otherwise.
var methodRoles = map[string]auth.Role{
	pb.KeyBrokerService_GetRandom_FullMethodName:     auth.RoleClient,
	pb.KeyBrokerService_ReportFailure_FullMethodName: auth.RoleClient,
	pb.KeyBrokerService_ReportUsage_FullMethodName:   auth.RoleClient,
	pb.KeyBrokerService_GetAll_FullMethodName:        auth.RoleAdmin,
	pb.KeyBrokerService_Add_FullMethodName:           auth.RoleAdmin,
	pb.KeyBrokerService_Remove_FullMethodName:        auth.RoleAdmin,
	pb.KeyBrokerService_ListPools_FullMethodName:     auth.RoleAdmin,
	pb.KeyBrokerService_DeletePool_FullMethodName:    auth.RoleAdmin,
}

// openMethod reports whether a method needs no credentials: health checks
// (probes carry none) and reflection (turn it off with --reflection=false).
func openMethod(fullMethod string) bool {
	return strings.HasPrefix(fullMethod, "/grpc.health.v1.Health/") ||
		strings.HasPrefix(fullMethod, "/grpc.reflection.")
}

func requiredRole(fullMethod string) auth.Role {
	if r, ok := methodRoles[fullMethod]; ok {
		return r
	}
	return auth.RoleAdmin
}

// authUnary enforces pol on unary calls: UNAUTHENTICATED without valid
// credentials, PERMISSION_DENIED for the wrong role or pool.
func authUnary(pols PolicySource) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if openMethod(info.FullMethod) {
			return handler(ctx, req)
		}
		p, err := principalOf(ctx, pols.Current())
		if err != nil {
			return nil, err
		}
		if err := authorize(p, info.FullMethod, req); err != nil {
			return nil, err
		}
		return handler(auth.NewContext(ctx, p), req)
	}
}

// authStream enforces pol on streaming calls; keybroker's own API has none,
// so only open methods pass without admin credentials.
func authStream(pols PolicySource) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if openMethod(info.FullMethod) {
			return handler(srv, ss)
		}
		p, err := principalOf(ss.Context(), pols.Current())
		if err != nil {
			return err
		}
		if err := authorize(p, info.FullMethod, nil); err != nil {
			return err
		}
		return handler(srv, ss)
	}
}

// principalOf returns the caller authTap already authenticated, or
// authenticates it now (a server built without the tap, as some tests do).
func principalOf(ctx context.Context, pol *auth.Policy) (auth.Principal, error) {
	if p, ok := tapped(ctx); ok {
		return p, nil
	}
	return authenticate(ctx, pol)
}

// authenticate finds the caller: a bearer token if one is sent (a bad one
// fails even when a certificate would pass), else a verified client
// certificate.
func authenticate(ctx context.Context, pol *auth.Policy) (auth.Principal, error) {
	if tok, sent, err := bearerToken(ctx); sent {
		if err != nil {
			return auth.Principal{}, err
		}
		if p, ok := pol.ByToken(tok); ok {
			return p, nil
		}
		return auth.Principal{}, status.Error(codes.Unauthenticated, "invalid bearer token")
	}
	if leaf := verifiedLeaf(ctx); leaf != nil {
		if p, ok := pol.ByCert(leaf); ok {
			return p, nil
		}
		return auth.Principal{}, status.Error(codes.Unauthenticated, "client certificate is not mapped to a role")
	}
	return auth.Principal{}, status.Error(codes.Unauthenticated, "credentials required: send metadata \"authorization: Bearer <token>\" or a client certificate")
}

func bearerToken(ctx context.Context) (token string, sent bool, err error) {
	md, _ := metadata.FromIncomingContext(ctx)
	vals := md.Get("authorization")
	if len(vals) == 0 {
		return "", false, nil
	}
	scheme, tok, ok := strings.Cut(vals[0], " ")
	if len(vals) > 1 || !ok || !strings.EqualFold(scheme, "bearer") || strings.TrimSpace(tok) == "" {
		return "", true, status.Error(codes.Unauthenticated, "authorization metadata must be one \"Bearer <token>\"")
	}
	return strings.TrimSpace(tok), true, nil
}

func verifiedLeaf(ctx context.Context) *x509.Certificate {
	pr, ok := peer.FromContext(ctx)
	if !ok {
		return nil
	}
	info, ok := pr.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.VerifiedChains) == 0 || len(info.State.VerifiedChains[0]) == 0 {
		return nil
	}
	return info.State.VerifiedChains[0][0]
}

// poolRequest is every keybroker request: they all name a pool.
type poolRequest interface{ GetPool() string }

func authorize(p auth.Principal, fullMethod string, req any) error {
	need := requiredRole(fullMethod)
	if !p.Can(need) {
		return status.Errorf(codes.PermissionDenied, "%s needs the %s role; %q has %s", methodName(fullMethod), need, p.Name, p.Role)
	}
	if r, ok := req.(poolRequest); ok && !p.Allows(r.GetPool()) {
		return status.Errorf(codes.PermissionDenied, "%q may not use pool %q", p.Name, r.GetPool())
	}
	return nil
}

func methodName(fullMethod string) string {
	return fullMethod[strings.LastIndex(fullMethod, "/")+1:]
}
