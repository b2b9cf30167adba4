package server

import (
	"encoding/base64"
	"strconv"
	"strings"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/secret"
)

// A page token remembers where a page ended together with the query it
// belongs to (its scope), so a token cannot silently page another query.
// It is opaque to clients: base64url of "v1|scope…|position". GetAll's
// scope is the pool and state filter, its position the last key id;
// GetKeyHistory's scope is the pool and key, its position the last audit
// entry id. Pool names, states and ids never contain "|".
const pageTokenVersion = "v1"

func encodePageToken(pool string, state pb.KeyState, after string) string {
	return encodeToken([]string{pool, state.String()}, after)
}

// decodePageToken returns the last key id a GetAll token carries, or an
// INVALID_ARGUMENT error when it is malformed or made for another query.
func decodePageToken(token, pool string, state pb.KeyState) (string, error) {
	return decodeToken(token, tokenQuery{
		rpc: "GetAll", scope: []string{pool, state.String()}, mismatch: "pool or state filter", valid: secret.ValidID,
	})
}

func encodeHistoryToken(pool, keyID, before string) string {
	return encodeToken([]string{pool, keyID}, before)
}

// decodeHistoryToken returns the audit entry id a GetKeyHistory token
// carries, or an INVALID_ARGUMENT error.
func decodeHistoryToken(token, pool, keyID string) (string, error) {
	return decodeToken(token, tokenQuery{
		rpc: "GetKeyHistory", scope: []string{pool, keyID}, mismatch: "pool or key", valid: streamID,
	})
}

func encodeToken(scope []string, position string) string {
	parts := append(append([]string{pageTokenVersion}, scope...), position)
	return base64.RawURLEncoding.EncodeToString([]byte(strings.Join(parts, "|")))
}

// tokenQuery says what a page token must match.
type tokenQuery struct {
	rpc      string            // the RPC that issues the tokens, for messages
	scope    []string          // what the token must have been issued for
	mismatch string            // what differs when the scope does not match
	valid    func(string) bool // whether a position is well formed
}

// decodeToken returns the position a token carries ("" for no token).
func decodeToken(token string, q tokenQuery) (string, error) {
	if token == "" {
		return "", nil
	}
	notOurs := invalid("page_token", "is not a page token from %s", q.rpc)
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return "", notOurs
	}
	parts := strings.Split(string(raw), "|")
	if len(parts) != len(q.scope)+2 || parts[0] != pageTokenVersion || !q.valid(parts[len(parts)-1]) {
		return "", notOurs
	}
	for i, s := range q.scope {
		if parts[i+1] != s {
			return "", invalid("page_token", "was issued for another %s; start again without a page_token", q.mismatch)
		}
	}
	return parts[len(parts)-1], nil
}

// streamID reports whether a position is an audit entry id Redis accepts
// ("<ms>-<seq>", each a 64-bit unsigned number): a crafted token with
// digits past 2^64 used to reach Redis, whose refusal came back INTERNAL.
func streamID(s string) bool {
	ms, seq, ok := strings.Cut(s, "-")
	if !ok {
		return false
	}
	_, err1 := strconv.ParseUint(ms, 10, 64)
	_, err2 := strconv.ParseUint(seq, 10, 64)
	return err1 == nil && err2 == nil
}
