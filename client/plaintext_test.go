package client

import (
	"strings"
	"testing"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// A caller configures a token and forgets TLS: the token would cross the
// network in the clear, readable by anyone on the path. New refuses
// unless the broker is on loopback or a unix socket, or WithInsecure says
// the risk is accepted.
func TestTokenIsNeverSentInTheClearBeyondLoopback(t *testing.T) {
	const tok = "client-token-0123456789"
	refused := []string{"10.0.0.7:50051", "dns:///203.0.113.9:50051", "[2001:db8::1]:50051", "broker.invalid:50051"}
	for _, target := range refused {
		c, err := New(target, WithBearerToken(tok))
		if err == nil || !strings.Contains(err.Error(), "refusing to send a bearer token over plaintext") {
			if c != nil {
				c.Close()
			}
			t.Errorf("New(%q) with a token over plaintext = %v, want a refusal", target, err)
		}
	}
	allowed := []struct {
		target string
		opts   []Option
	}{
		{"127.0.0.1:50051", nil},
		{"[::1]:50051", nil},
		{"localhost:50051", nil},
		{"unix:///run/keybroker/kb.sock", nil},
		{"10.0.0.7:50051", []Option{WithInsecure()}},
		{"10.0.0.7:50051", []Option{WithTransportCredentials(credentials.NewTLS(nil))}},
	}
	for _, a := range allowed {
		c, err := New(a.target, append([]Option{WithBearerToken(tok)}, a.opts...)...)
		if err != nil {
			t.Errorf("New(%q): %v", a.target, err)
			continue
		}
		c.Close()
	}
	// Without a token there is nothing to leak.
	c, err := New("10.0.0.7:50051", WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}
