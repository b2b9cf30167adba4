package store

// As returns a Store that records actor as the author of the changes it
// makes (Add, Remove, Report), for the audit trail: the authenticated
// caller's name, say. The audit entry reads "<role>:<actor>"
// ("admin:ops", "report:chat-service"); with actor "" it is the role
// alone (authentication off). The identity travels as this explicit
// value, never through a context, so a caller cannot be credited with a
// change by whatever happened to be in the context it was handed.
func (s *Store) As(actor string) *Store {
	c := *s
	c.actor = actor
	return &c
}

// actorAs names the audit actor of a change made in role.
func (s *Store) actorAs(role string) string {
	if s.actor != "" {
		return role + ":" + s.actor
	}
	return role
}
