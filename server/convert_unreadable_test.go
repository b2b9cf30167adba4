package server

import (
	"testing"

	"github.com/keybroker/keybroker/internal/store"
)

// A key whose secret cannot be opened is shown as unreadable, and never
// revealed, even when an admin asks.
func TestUnreadableKeyIsListedNotRevealed(t *testing.T) {
	k := keyToProto(store.Key{ID: "0123456789abcdef", Unreadable: true}, true)
	if k.GetMaskedSecret() != UnreadableSecret || k.GetSecret() != "" {
		t.Fatalf("unreadable key shown as %q / %q", k.GetMaskedSecret(), k.GetSecret())
	}
}
