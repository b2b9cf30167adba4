package server

import (
	"context"

	"google.golang.org/grpc/tap"

	"github.com/keybroker/keybroker/internal/auth"
)

// PolicySource gives the authentication policy in force. *auth.Live is
// one (it follows --auth-file); a fixed policy is wrapped by StaticPolicy.
type PolicySource interface {
	Current() *auth.Policy
}

// StaticPolicy is a PolicySource that never changes.
type StaticPolicy struct{ Policy *auth.Policy }

// Current returns the fixed policy.
func (s StaticPolicy) Current() *auth.Policy { return s.Policy }

// authTap authenticates a call from its headers alone, before grpc-go reads
// (and decodes) the request body: an unauthenticated peer, or a caller
// whose role does not cover the method, is refused while its request is
// still on the wire, so it can make the broker hold or decode nothing. The
// pool check needs the request and stays in the interceptor; the principal
// found here rides in the context so the interceptor does not look again.
//
// grpc-go puts the peer (with its verified TLS chain) and the metadata in
// ctx before calling a tap handle, so tokens and client certificates are
// both checked here.
func authTap(pols PolicySource) func(context.Context, *tap.Info) (context.Context, error) {
	return func(ctx context.Context, info *tap.Info) (context.Context, error) {
		pol := pols.Current()
		if !pol.Enabled() || openMethod(info.FullMethodName) {
			return ctx, nil
		}
		p, err := authenticate(ctx, pol)
		if err != nil {
			return nil, err
		}
		if err := authorize(p, info.FullMethodName, nil); err != nil {
			return nil, err
		}
		return context.WithValue(auth.NewContext(ctx, p), tappedKey{}, true), nil
	}
}

// tappedKey marks a context whose principal authTap found.
type tappedKey struct{}

// tapped returns the principal authTap found for this call, if any.
func tapped(ctx context.Context) (auth.Principal, bool) {
	if ok, _ := ctx.Value(tappedKey{}).(bool); !ok {
		return auth.Principal{}, false
	}
	return auth.FromContext(ctx)
}
