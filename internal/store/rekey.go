package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/keybroker/keybroker/internal/seal"
)

// RekeyResult counts what Rekey did to a pool.
type RekeyResult struct {
	// Keys is how many keys were looked at.
	Keys int
	// Resealed were plaintext or sealed with an older data key.
	Resealed int
	// Current were already sealed with the primary key.
	Current int
	// Raced changed or vanished between read and write; run again.
	Raced int
}

// Rekey re-encrypts every secret of a pool with the keyring's primary key,
// online: pages of keys are read, resealed in Go, and written back with a
// compare-and-set script, so concurrent Adds, Removes and reports are never
// overwritten. It is safe to run on several replicas or repeatedly.
func (s *Store) Rekey(ctx context.Context, pool string) (RekeyResult, error) {
	var res RekeyResult
	if s.ring == nil {
		return res, errors.New("rekey needs an encryption key (--encryption-key-file)")
	}
	start := "-"
	for {
		rows, err := s.eval(ctx, secretsScript, pool, start, s.batch).Slice()
		if err != nil {
			return res, fmt.Errorf("rekey pool %q: read: %w", pool, err)
		}
		if len(rows) == 0 {
			return res, nil
		}
		args, last, err := s.resealPage(pool, rows, &res)
		if err != nil {
			return res, fmt.Errorf("rekey pool %q: %w", pool, err)
		}
		if len(args) > 0 {
			n, err := s.eval(ctx, resealScript, pool, args...).Int()
			if err != nil {
				return res, fmt.Errorf("rekey pool %q: write: %w", pool, err)
			}
			res.Resealed += n
			res.Raced += len(args)/3 - n
		}
		start = "(" + last
	}
}

// resealPage returns the id, old, new triples for the keys of one page
// that are not yet sealed with the primary key, and the page's last id.
func (s *Store) resealPage(pool string, rows []any, res *RekeyResult) (args []any, last string, err error) {
	for _, row := range rows {
		r, ok := row.([]any)
		if !ok || len(r) != 2 {
			return nil, "", fmt.Errorf("malformed secrets reply")
		}
		id, stored := reply(r).str(0), reply(r).str(1)
		last = id
		res.Keys++
		if seal.KeyID(stored) == s.ring.Primary() {
			res.Current++
			continue
		}
		plain, err := s.openSecret(pool, id, stored)
		if err != nil {
			return nil, "", err
		}
		fresh, err := s.sealSecret(pool, id, plain)
		if err != nil {
			return nil, "", err
		}
		args = append(args, id, stored, fresh)
	}
	return args, last, nil
}
