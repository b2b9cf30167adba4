package broker

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"github.com/alicebob/miniredis/v2"
)

// embedded is the in-process Redis-compatible store for trying keybroker
// out without a Redis. The broker talks to it exactly as it talks to
// Redis; only durability differs.
type embedded struct {
	*miniredis.Miniredis
	// URL reaches it, password included.
	URL string
}

// startEmbedded runs the embedded store on a loopback port behind a
// random password, so another user of the machine who finds the port
// reads nothing (it used to answer anyone: every secret and the broker
// key). miniredis only listens on TCP; the password is the lock.
func startEmbedded() (*embedded, error) {
	var pw [24]byte
	if _, err := rand.Read(pw[:]); err != nil {
		return nil, fmt.Errorf("embedded store password: %w", err)
	}
	password := hex.EncodeToString(pw[:])
	m := miniredis.NewMiniRedis()
	m.RequireAuth(password)
	if err := m.StartAddr("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("start embedded store: %w", err)
	}
	return &embedded{Miniredis: m, URL: "redis://:" + password + "@" + m.Addr()}, nil
}
