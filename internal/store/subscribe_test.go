package store

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/keybroker/keybroker/internal/redistest"
	"github.com/keybroker/keybroker/internal/secret"
)

// next returns the next event, failing the test if none comes.
func next(t *testing.T, events <-chan Event) Event {
	t.Helper()
	select {
	case ev, ok := <-events:
		if !ok {
			t.Fatal("the event stream closed")
		}
		return ev
	case <-time.After(20 * time.Second):
		t.Fatal("no event")
	}
	return Event{}
}

// Subscribe is a typed stream: it opens with EventSubscribed, carries the
// scripts' changes, flags what someone else publishes on an events
// channel, signals a reconnect with EventSubscribed again (events may
// have been lost), and closes when its context ends.
func TestSubscribe(t *testing.T) {
	srv := redistest.Start(t)
	raw := srv.Client()
	conn, err := Open(context.Background(), RedisConfig{Addrs: []string{srv.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	st := conn.Store(secret.NewIDs([]byte("k")))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := st.Subscribe(ctx)
	if ev := next(t, events); ev.Kind != EventSubscribed {
		t.Fatalf("first event %+v, want %s", ev, EventSubscribed)
	}

	res, err := st.Add(ctx, "p", []string{"sk-subscribe-0123456789"})
	if err != nil {
		t.Fatal(err)
	}
	if ev := next(t, events); ev.Kind != EventAdded || ev.Pool != "p" || !slices.Equal(ev.IDs, res.KeyIDs) {
		t.Fatalf("after Add: %+v, want added %v in p", ev, res.KeyIDs)
	}

	if err := raw.Publish(ctx, "kb:{p}:events", "not an event").Err(); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, events); ev.Kind != EventMalformed || ev.Channel != "kb:{p}:events" {
		t.Fatalf("after a foreign message: %+v, want %s on kb:{p}:events", ev, EventMalformed)
	}

	if n, err := raw.ClientKillByFilter(ctx, "TYPE", "pubsub").Result(); err != nil || n == 0 {
		t.Fatalf("kill the subscription: %d, %v", n, err)
	}
	if ev := next(t, events); ev.Kind != EventSubscribed {
		t.Fatalf("after a reconnect: %+v, want %s", ev, EventSubscribed)
	}

	cancel()
	for range events { // drains, then ends: the channel is closed
	}
}
