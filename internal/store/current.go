package store

import (
	"context"
	"fmt"
	"strconv"
)

// The scripts a broker's in-memory view reads its pools with.
var (
	activeScript = script("active")
	fetchScript  = script("fetch")
)

// Current is a key as a broker's in-memory view of its pool needs it: what
// state it is in and, when it can be leased, its secret and weight.
type Current struct {
	ID string
	// State is the key's state, "" when it is not in the pool.
	State State
	// Secret is the opened secret of an active key ("" otherwise, and in
	// ActivePage unless secrets were asked for).
	Secret string
	// Weight is the key's selection weight, at least 1.
	Weight uint32
	// Err says the stored secret could not be opened (a data key missing
	// from the ring): the key cannot be served. It names the key id only.
	Err error
}

// ActivePage is one page of a pool's active keys, in key id order.
type ActivePage struct {
	Keys []Current
	// Total is how many keys of the pool were active when the page was
	// read, so a first load can size its memory once.
	Total int
}

// ActivePage reads up to limit active keys of a pool whose key ids sort
// after after ("" for the start), with their secrets when secrets is true.
// Paging by key id reads a pool of any size with constant memory, and
// sees every key that stays active throughout exactly once.
func (s *Store) ActivePage(ctx context.Context, pool, after string, limit int, secrets bool) (ActivePage, error) {
	start, flag := "-", "0"
	if after != "" {
		start = "(" + after
	}
	if secrets {
		flag = "1"
	}
	res, err := s.eval(ctx, activeScript, pool, start, limit, flag).Slice()
	if err != nil {
		return ActivePage{}, fmt.Errorf("read active keys of pool %q: %w", pool, err)
	}
	r := reply(res)
	if err := r.err(nil); err != nil || len(r)%3 != 1 {
		return ActivePage{}, fmt.Errorf("read active keys of pool %q: malformed reply (%w)", pool, err)
	}
	page := ActivePage{Total: int(r.int(0)), Keys: make([]Current, 0, len(r)/3)}
	for i := 1; i < len(r); i += 3 {
		c := Current{ID: r.str(i), State: Active, Weight: parseWeight(r.str(i + 1))}
		if secrets {
			c.Secret, c.Err = s.openSecret(pool, c.ID, r.str(i+2))
		}
		page.Keys = append(page.Keys, c)
	}
	return page, nil
}

// Fetch returns what the keys ids of a pool are now, in order, for a view
// following a change notification. Ids not in the pool come back with an
// empty State.
func (s *Store) Fetch(ctx context.Context, pool string, ids []string) ([]Current, error) {
	out := make([]Current, 0, len(ids))
	for start := 0; start < len(ids); start += s.batch {
		chunk := ids[start:min(start+s.batch, len(ids))]
		res, err := s.eval(ctx, fetchScript, pool, idArgs(chunk)...).Slice()
		if err != nil {
			return nil, fmt.Errorf("fetch %d keys of pool %q: %w", len(chunk), pool, err)
		}
		r := reply(res)
		if err := r.err(nil); err != nil || len(r) != 3*len(chunk) {
			return nil, fmt.Errorf("fetch keys of pool %q: malformed reply (%w)", pool, err)
		}
		for i, id := range chunk {
			out = append(out, s.current(pool, id, r.str(3*i), r.str(3*i+1), r.str(3*i+2)))
		}
	}
	return out, nil
}

// current builds one Fetch row, opening the secret of an active key.
func (s *Store) current(pool, id, state, weight, stored string) Current {
	c := Current{ID: id, Weight: parseWeight(weight)}
	if state == "" {
		return c
	}
	c.State = State(state)
	if c.State == Active {
		c.Secret, c.Err = s.openSecret(pool, id, stored)
	}
	return c
}

// parseWeight reads a stored weight: unset or malformed is 1.
func parseWeight(s string) uint32 {
	w, err := strconv.ParseUint(s, 10, 32)
	if err != nil || w == 0 {
		return 1
	}
	return uint32(w)
}

// idArgs turns key ids into script arguments.
func idArgs(ids []string) []any {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return args
}
