package broker

import (
	"fmt"

	"github.com/alicebob/miniredis/v2"
)

// startEmbedded runs an in-process Redis-compatible store on a loopback
// port, for trying keybroker out without a Redis. The broker talks to it
// exactly as it talks to Redis; only durability differs.
func startEmbedded() (*miniredis.Miniredis, error) {
	m := miniredis.NewMiniRedis()
	if err := m.StartAddr("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("start embedded store: %w", err)
	}
	return m, nil
}
