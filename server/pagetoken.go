package server

import (
	"encoding/base64"
	"strings"
)

// A page token remembers where a page ended together with the query it
// belongs to (the scope: pool and filter, or pool and key), so a token
// cannot silently page another query. It is opaque to clients: base64url
// of "v1|scope…|position".
const pageTokenVersion = "v1"

func encodePageToken(scope []string, position string) string {
	parts := append(append([]string{pageTokenVersion}, scope...), position)
	return base64.RawURLEncoding.EncodeToString([]byte(strings.Join(parts, "|")))
}

// pageQuery says what a page token must match, for decodePageToken.
type pageQuery struct {
	rpc      string            // the RPC that issues the tokens, for messages
	scope    []string          // what the token must have been issued for
	mismatch string            // what differs when the scope does not match
	valid    func(string) bool // whether a position is well formed
}

// decodePageToken returns the position the token carries ("" for no
// token), or an INVALID_ARGUMENT error when it is malformed or made for
// another query. Pool names, states and key ids never contain "|".
func decodePageToken(token string, q pageQuery) (string, error) {
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
