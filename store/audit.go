package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/keybroker/keybroker/secret"
)

// AuditEntry is one state change of a key, as the pool's audit trail keeps
// it. Entries outlive the key: a removed key's history stays until the
// trail's cap pushes it out.
type AuditEntry struct {
	// ID is the entry's stream id; History continues before it.
	ID    string
	Time  time.Time
	KeyID string
	// From is "" when the key was added, To is Removed when it was removed.
	From, To State
	Reason   string
	// Actor is who made the change: "admin" (Add, Remove), "report"
	// (ReportFailure), "broker" (a cooldown or reset ended), or the
	// worker's name.
	Actor string
	// Until is when the new state ends by itself; zero for no end.
	Until time.Time
}

// HistoryQuery selects one page of a key's audit entries.
type HistoryQuery struct {
	KeyID string
	// Before is the ID of the last entry of the previous page; empty
	// starts with the newest entry.
	Before string
	// Limit is the most entries to return (at least 1).
	Limit int
}

// History returns a page of a key's audit entries, newest first, and
// whether older ones follow.
func (s *Store) History(ctx context.Context, pool string, q HistoryQuery) ([]AuditEntry, bool, error) {
	if q.Limit < 1 {
		return nil, false, fmt.Errorf("history of pool %q: limit %d is below 1", pool, q.Limit)
	}
	if !secret.ValidID(q.KeyID) {
		return nil, false, fmt.Errorf("history of pool %q: %q is not a key id", pool, q.KeyID)
	}
	before := "+"
	if q.Before != "" {
		if !validStreamID(q.Before) {
			return nil, false, fmt.Errorf("history of pool %q: before %q is not an audit entry id", pool, q.Before)
		}
		before = q.Before
	}
	res, err := s.eval(ctx, historyScript, pool, q.KeyID, q.Limit+1, before).Slice()
	if err != nil {
		return nil, false, fmt.Errorf("history of key %s in pool %q: %w", q.KeyID, pool, err)
	}
	entries, err := parseEntries(res, q.KeyID)
	if err != nil {
		return nil, false, fmt.Errorf("history of key %s in pool %q: %w", q.KeyID, pool, err)
	}
	more := len(entries) > q.Limit
	if more {
		entries = entries[:q.Limit]
	}
	return entries, more, nil
}

func parseEntries(rows []any, keyID string) ([]AuditEntry, error) {
	out := make([]AuditEntry, 0, len(rows))
	for _, row := range rows {
		f, ok := row.([]any)
		if !ok || len(f) != 7 {
			return nil, fmt.Errorf("malformed audit row")
		}
		r := reply(f)
		from, err := parseChange(r.str(2))
		if err != nil {
			return nil, err
		}
		to, err := parseChange(r.str(3))
		if err != nil {
			return nil, err
		}
		out = append(out, AuditEntry{
			ID: r.str(0), Time: millis(num(r.str(1))), KeyID: keyID, From: from, To: to,
			Reason: r.str(4), Actor: r.str(5), Until: millis(num(r.str(6))),
		})
	}
	return out, nil
}

// validStreamID reports whether id has the shape of a Redis stream id,
// "<ms>-<seq>", so a bad one is refused here instead of by Redis.
func validStreamID(id string) bool {
	ms, seq, ok := strings.Cut(id, "-")
	return ok && digits(ms) && digits(seq)
}

func digits(s string) bool {
	if s == "" || len(s) > 20 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
