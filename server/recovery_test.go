package server_test

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/store"
	"github.com/keybroker/keybroker/server"
)

// panickySelector panics for one pool and picks from the store otherwise.
type panickySelector struct {
	store *store.Store
}

const (
	panicPool  = "boom"
	panicValue = "selector exploded while holding sk-panic-key-00001"
)

func (s panickySelector) Pick(ctx context.Context, pool string) (store.Picked, error) {
	if pool == panicPool {
		panic(panicValue)
	}
	return s.store.Pick(ctx, pool)
}

func TestPanicBecomesInternal(t *testing.T) {
	h := newHarness(t, withSelector(func(st *store.Store) server.Selector { return panickySelector{st} }))
	h.add(t, panicPool, "sk-panic-key-00001")

	_, err := h.client.GetRandom(h.ctx(t), &pb.GetRandomRequest{Pool: panicPool})
	d := detailsOf(t, err)
	if d.st.Code() != codes.Internal || d.st.Message() != "internal error" {
		t.Fatalf("got %s %q, want INTERNAL \"internal error\"", d.st.Code(), d.st.Message())
	}

	// The panic is logged with its type and stack; a formatted panic value
	// is not, since it could hold whatever the code had at hand.
	var logged bool
	for _, line := range h.logs.Lines(t) {
		if line["msg"] == "handler panicked" && line["panic"] == "string (value not logged)" && strings.Contains(line["stack"].(string), "panickySelector") {
			logged = true
		}
	}
	if !logged {
		t.Fatalf("no \"handler panicked\" line with the panic's type and its stack in:\n%s", h.logs.String())
	}
	if strings.Contains(h.logs.String(), "sk-panic-key") {
		t.Fatalf("the panic's value, and the secret in it, reached the log:\n%s", h.logs.String())
	}

	// The broker lives on, on the same connection.
	const pool = "after-panic"
	id := h.add(t, pool, "sk-panic-key-00002")[0]
	got, err := h.client.GetRandom(h.ctx(t), &pb.GetRandomRequest{Pool: pool})
	if err != nil {
		t.Fatalf("GetRandom after a panic: %v", err)
	}
	if got.GetKeyId() != id {
		t.Fatalf("leased %s, want %s", got.GetKeyId(), id)
	}
}
