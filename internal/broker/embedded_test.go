package broker

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/keybroker/keybroker/internal/redistest"
)

// Another user on the same machine finds the embedded store's loopback
// port and connects without a password. Before, it read every secret
// and the broker key; now every command is refused, while the broker,
// which knows the random password, works.
func TestEmbeddedStoreRefusesOtherLocalUsers(t *testing.T) {
	m, err := startEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	broker := redistest.DialURL(t, m.URL)
	if err := broker.Set(ctx, "kb:broker-key", "plain c2VjcmV0", 0).Err(); err != nil {
		t.Fatalf("the broker cannot use its own store: %v", err)
	}

	stranger := redistest.Dial(t, m.Addr())
	if v, err := stranger.Get(ctx, "kb:broker-key").Result(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Fatalf("a client without the password read %q (err %v)", v, err)
	}
	if keys, err := stranger.Keys(ctx, "*").Result(); err == nil {
		t.Fatalf("a client without the password listed %v", keys)
	}
}
