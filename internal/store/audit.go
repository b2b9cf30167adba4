package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keybroker/keybroker/internal/secret"
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

// historyChunk is how many audit entries one read takes. The trail is
// shared by a pool's keys, so a key's entries are found by reading it
// backwards a chunk at a time, in Go: Redis is never held for more than one
// short XREVRANGE, however long the trail.
const historyChunk = 500

// History returns a page of a key's audit entries, newest first, and
// whether older ones follow. It needs Redis 6.2 (exclusive ranges).
func (s *Store) History(ctx context.Context, pool string, q HistoryQuery) ([]AuditEntry, bool, error) {
	if q.Limit < 1 {
		return nil, false, fmt.Errorf("history of pool %q: limit %d is below 1", pool, q.Limit)
	}
	if !secret.ValidID(q.KeyID) {
		return nil, false, fmt.Errorf("history of pool %q: %q is not a key id", pool, q.KeyID)
	}
	end := "+"
	if q.Before != "" {
		if !validStreamID(q.Before) {
			return nil, false, fmt.Errorf("history of pool %q: before %q is not an audit entry id", pool, q.Before)
		}
		end = "(" + q.Before
	}
	var out []AuditEntry
	for _, stream := range auditStreams(pool) {
		got, err := s.streamHistory(ctx, stream, end, q)
		if err != nil {
			return nil, false, fmt.Errorf("history of key %s in pool %q: %w", q.KeyID, pool, err)
		}
		out = append(out, got...)
	}
	slices.SortFunc(out, func(a, b AuditEntry) int { return compareStreamIDs(b.ID, a.ID) })
	if len(out) > q.Limit {
		return out[:q.Limit], true, nil
	}
	return out, false, nil
}

// auditStreams are a pool's two audit streams: caller-caused changes, and
// admins' and the worker's decisions (kept apart so the first cannot push
// the second out).
func auditStreams(pool string) []string {
	return []string{prefix(pool) + "audit", prefix(pool) + "audit:decisions"}
}

// streamHistory returns up to q.Limit+1 of keyID's entries in one stream,
// newest first, from end down.
func (s *Store) streamHistory(ctx context.Context, stream, end string, q HistoryQuery) ([]AuditEntry, error) {
	var out []AuditEntry
	for len(out) <= q.Limit {
		msgs, err := s.rdb.XRevRangeN(ctx, stream, end, "-", historyChunk).Result()
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			if e, ok := parseEntry(m, q.KeyID); ok {
				out = append(out, e)
			}
		}
		if len(msgs) < historyChunk {
			break
		}
		end = "(" + msgs[len(msgs)-1].ID
	}
	return out, nil
}

// compareStreamIDs orders stream ids ("<ms>-<seq>") by time.
func compareStreamIDs(a, b string) int {
	ams, aseq, _ := strings.Cut(a, "-")
	bms, bseq, _ := strings.Cut(b, "-")
	if c := cmp.Compare(num(ams), num(bms)); c != 0 {
		return c
	}
	return cmp.Compare(num(aseq), num(bseq))
}

// parseEntry reads one audit stream entry if it is about keyID. Entries
// are written only by the scripts; a field that does not parse reads as
// empty rather than failing the page.
func parseEntry(m redis.XMessage, keyID string) (AuditEntry, bool) {
	field := func(name string) string {
		v, _ := m.Values[name].(string)
		return v
	}
	if field("k") != keyID {
		return AuditEntry{}, false
	}
	from, _ := parseChange(field("f"))
	to, _ := parseChange(field("s"))
	return AuditEntry{
		ID: m.ID, Time: millis(num(field("t"))), KeyID: keyID, From: from, To: to,
		Reason: field("r"), Actor: field("a"), Until: millis(num(field("u"))),
	}, true
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

// SetAuditLength sets about how many entries each of a pool's audit
// streams keeps (the pool's audit_length); n <= 0 returns it to
// AuditLength. It applies from the next entry written.
func (s *Store) SetAuditLength(ctx context.Context, pool string, n int) error {
	key := prefix(pool) + "audit:max"
	var err error
	if n <= 0 || n == AuditLength {
		err = s.rdb.Del(ctx, key).Err()
	} else {
		err = s.rdb.Set(ctx, key, n, 0).Err()
	}
	if err != nil {
		return fmt.Errorf("set audit length of pool %q: %w", pool, err)
	}
	return nil
}
