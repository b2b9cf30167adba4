// Package auth decides who a caller is: bearer tokens (kept only as
// SHA-256 hashes, compared in constant time) and client certificates map
// to principals with a role and, optionally, the pools they may use. The
// gRPC interceptor that enforces it lives in package server.
package auth

import (
	"context"
	"fmt"
	"slices"
)

// Role is what a principal may do. Admin includes everything a client may.
type Role int

// The roles.
const (
	// RoleNone is the zero value: no access.
	RoleNone Role = iota
	// RoleClient may lease keys and report failures (GetRandom, ReportFailure).
	RoleClient
	// RoleAdmin may also list, reveal, add and remove keys.
	RoleAdmin
)

// String returns the role's name as written in the policy file.
func (r Role) String() string {
	switch r {
	case RoleClient:
		return "client"
	case RoleAdmin:
		return "admin"
	}
	return "none"
}

// ParseRole reads "client" or "admin".
func ParseRole(s string) (Role, error) {
	switch s {
	case "client":
		return RoleClient, nil
	case "admin":
		return RoleAdmin, nil
	}
	return RoleNone, fmt.Errorf("role %q: want client or admin", s)
}

// Principal is an authenticated caller. Its Name, never its credential,
// is what logs and audit entries record.
type Principal struct {
	Name  string
	Role  Role
	Pools []string // empty: every pool
	Via   string   // "token" or "certificate"
}

// Can reports whether the principal's role covers need.
func (p Principal) Can(need Role) bool { return p.Role >= need }

// Allows reports whether the principal may use pool.
func (p Principal) Allows(pool string) bool {
	return len(p.Pools) == 0 || slices.Contains(p.Pools, pool)
}

type principalKey struct{}

// NewContext returns ctx carrying p, for handlers that record the actor.
func NewContext(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal of an authenticated call.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// Actor names the caller for logs and audit entries: the principal's name,
// or "anonymous" when authentication is off.
func Actor(ctx context.Context) string {
	if p, ok := FromContext(ctx); ok {
		return p.Name
	}
	return "anonymous"
}
