package store

import "context"

type actorKey struct{}

// WithActor returns ctx naming who is making the changes that follow, for
// the audit trail: the authenticated caller's name, say. Store methods
// record it as "<role>:<actor>" ("admin:ops", "report:chat-service").
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// actorOf names the audit actor of a change made in role: the role alone
// when ctx names nobody (authentication off).
func actorOf(ctx context.Context, role string) string {
	if a, ok := ctx.Value(actorKey{}).(string); ok && a != "" {
		return role + ":" + a
	}
	return role
}
