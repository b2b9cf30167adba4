package store

import (
	"context"
	"fmt"
	"strconv"

	"github.com/keybroker/keybroker/failure"
	"github.com/keybroker/keybroker/internal/secret"
)

// Query selects one page of a pool's keys.
type Query struct {
	// State filters by state; empty lists every key.
	State State
	// After is the last key id of the previous page; empty starts at the
	// beginning. Paging by key id returns each key exactly once even while
	// keys are added or removed between pages.
	After string
	// Limit is the most keys to return (at least 1).
	Limit int
}

// Page is one page of keys in key id order.
type Page struct {
	Keys   []Key
	More   bool // another page follows
	Counts Counts
}

// List returns one page of keys. It reads one page's worth of keys from
// Redis whatever the pool's size.
func (s *Store) List(ctx context.Context, pool string, q Query) (Page, error) {
	if q.Limit < 1 {
		return Page{}, fmt.Errorf("list pool %q: limit %d is below 1", pool, q.Limit)
	}
	if q.After != "" && !secret.ValidID(q.After) {
		return Page{}, fmt.Errorf("list pool %q: after %q is not a key id", pool, q.After)
	}
	index, start := "all", "-"
	if q.State != "" {
		index = string(q.State)
	}
	if q.After != "" {
		start = "(" + q.After
	}
	res, err := s.eval(ctx, listScript, pool, index, start, q.Limit+1).Slice()
	if err != nil {
		return Page{}, fmt.Errorf("list pool %q: %w", pool, err)
	}
	page, err := parsePage(res, q.Limit)
	if err != nil {
		return Page{}, fmt.Errorf("list pool %q: %w", pool, err)
	}
	for i := range page.Keys {
		k := &page.Keys[i]
		if k.Secret, err = s.openSecret(pool, k.ID, k.Secret); err != nil {
			return Page{}, fmt.Errorf("list pool %q: %w", pool, err)
		}
	}
	return page, nil
}

func parsePage(res []any, limit int) (Page, error) {
	if len(res) != 2 {
		return Page{}, fmt.Errorf("script answered %d elements, want 2", len(res))
	}
	c, ok1 := res[0].([]any)
	rows, ok2 := res[1].([]any)
	if !ok1 || !ok2 || len(c) != 6 {
		return Page{}, fmt.Errorf("malformed script reply")
	}
	cr := reply(c)
	page := Page{Counts: Counts{Total: cr.int(0), Active: cr.int(1), CoolingDown: cr.int(2), Suspect: cr.int(3), Disabled: cr.int(4), Quarantined: cr.int(5)}}
	if len(rows) > limit {
		page.More, rows = true, rows[:limit]
	}
	page.Keys = make([]Key, 0, len(rows))
	for _, row := range rows {
		fields, ok := row.([]any)
		if !ok {
			return Page{}, fmt.Errorf("malformed key row %T", row)
		}
		k, err := parseKey(reply(fields))
		if err != nil {
			return Page{}, err
		}
		page.Keys = append(page.Keys, k)
	}
	return page, nil
}

func parseKey(r reply) (Key, error) {
	if len(r) != 14 {
		return Key{}, fmt.Errorf("key row has %d fields, want 14", len(r))
	}
	st, err := parseState(r.str(2))
	if err != nil {
		return Key{}, fmt.Errorf("key %s: %w", r.str(0), err)
	}
	k := Key{
		ID: r.str(0), Secret: r.str(1), State: st, Reason: r.str(3),
		Until: millis(num(r.str(4))), Added: millis(num(r.str(5))),
		LastUsed: millis(num(r.str(6))), LastValidated: millis(num(r.str(7))),
		Leases: num(r.str(8)), Failures: num(r.str(9)),
	}
	if fk := r.str(10); fk != "" {
		if k.LastFailure, err = failure.ParseKind(fk); err != nil {
			return Key{}, fmt.Errorf("key %s: %w", k.ID, err)
		}
	}
	if r.str(11) != "" {
		k.Balance = &Balance{LimitUSD: decimal(r.str(11)), UsedUSD: decimal(r.str(12)), Expires: millis(num(r.str(13)))}
	}
	return k, nil
}

// decimal reads a stored amount written by the worker; like num, a bad
// value reads as 0.
func decimal(s string) float64 {
	f, _ := strconv.ParseFloat(s, 64)
	return f
}

// num reads a stored decimal; hash fields are written only by the scripts,
// so a bad value reads as 0 rather than failing a whole page.
func num(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}
