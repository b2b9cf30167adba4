package store

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/keybroker/keybroker/internal/redistest"
	"github.com/keybroker/keybroker/internal/secret"
)

// replyError is an error reply from Redis, as the client reports one.
type replyError string

func (e replyError) Error() string { return string(e) }
func (replyError) RedisError()     {}

// IsUnavailable tells "try again shortly" from "this will never work", for
// callers that must not know what Redis errors look like.
func TestIsUnavailable(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"ErrUnavailable wrapped", fmt.Errorf("pick: %w", ErrUnavailable), true},
		{"loading replica", fmt.Errorf("report: %w", replyError("LOADING Redis is loading the dataset in memory")), true},
		{"master down", replyError("MASTERDOWN Link with MASTER is down"), true},
		{"cluster down", replyError("CLUSTERDOWN The cluster is down"), true},
		{"slot moving", replyError("TRYAGAIN Multiple keys request during rehashing of slot"), true},
		{"read-only replica after failover", replyError("READONLY You can't write against a read only replica."), true},
		{"busy script", replyError("BUSY Redis is busy running a script"), true},
		{"script error", replyError("ERR Error running script"), false},
		{"wrong type", replyError("WRONGTYPE Operation against a key holding the wrong kind of value"), false},
		{"unknown key", ErrKeyUnknown, false},
		{"canceled", context.Canceled, false},
	} {
		if got := IsUnavailable(tt.err); got != tt.want {
			t.Errorf("%s: IsUnavailable(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}

// The errors a real client gives for a Redis that is gone (refused
// connection, closed client, a Redis killed mid-use) are unavailable.
func TestIsUnavailableOnRealOutages(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nobody := l.Addr().String()
	l.Close()
	ctx := context.Background()
	if _, err := Open(ctx, RedisConfig{Addrs: []string{nobody}, Timeout: 200 * time.Millisecond}); !IsUnavailable(err) {
		t.Errorf("Open on a closed port: %v, want unavailable", err)
	}

	srv := redistest.Start(t)
	conn, err := Open(ctx, RedisConfig{Addrs: []string{srv.Addr}, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	st := conn.Store(secret.NewIDs([]byte("k")))
	if _, err := st.Pools(ctx); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	if _, err := st.Pools(ctx); !IsUnavailable(err) {
		t.Errorf("a Redis that died: %v, want unavailable", err)
	}
	conn.Close()
	if err := st.Ping(ctx); !IsUnavailable(err) {
		t.Errorf("a closed connection: %v, want unavailable", err)
	}
}
