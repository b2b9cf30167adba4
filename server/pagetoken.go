package server

import (
	"encoding/base64"
	"strings"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/secret"
)

// A page token remembers the last key id of a page together with the pool
// and filter it belongs to, so a token cannot silently page another query.
// It is opaque to clients: base64url of "v1|pool|state|last key id".
const pageTokenVersion = "v1"

func encodePageToken(pool string, state pb.KeyState, after string) string {
	raw := strings.Join([]string{pageTokenVersion, pool, state.String(), after}, "|")
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// decodePageToken returns the last key id the token carries, or an
// INVALID_ARGUMENT error when it is malformed or made for another query.
func decodePageToken(token, pool string, state pb.KeyState) (string, error) {
	if token == "" {
		return "", nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return "", invalid("page_token", "is not a page token from GetAll")
	}
	parts := strings.Split(string(raw), "|")
	if len(parts) != 4 || parts[0] != pageTokenVersion || !secret.ValidID(parts[3]) {
		return "", invalid("page_token", "is not a page token from GetAll")
	}
	if parts[1] != pool || parts[2] != state.String() {
		return "", invalid("page_token", "was issued for another pool or state filter; start again without a page_token")
	}
	return parts[3], nil
}
