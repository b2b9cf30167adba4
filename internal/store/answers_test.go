package store

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/keybroker/keybroker/internal/redistest"
)

// AnswerHook marks a pool answered only when Redis really answered for
// it: a network cut (the connection accepted, then closed: EOF) must not
// count, or a view nobody can refresh would look fresh forever.
func TestAnswerHookAndProbeFollowRealAnswers(t *testing.T) {
	rs := redistest.Start(t)
	px := redistest.StartProxy(t, rs.Addr)
	var mu sync.Mutex
	seen := map[string]int{}
	rdb, err := connect(RedisConfig{Addrs: []string{px.Addr}, Timeout: 300 * time.Millisecond,
		Answered: func(pool string) { mu.Lock(); seen[pool]++; mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	count := func(pool string) int { mu.Lock(); defer mu.Unlock(); return seen[pool] }
	st := New(rdb, nil)
	ctx := context.Background()

	if failed := st.ProbePools(ctx, []string{"a", "b"}); len(failed) != 0 {
		t.Fatalf("probe with Redis up failed: %v", failed)
	}
	if count("a") != 1 || count("b") != 1 {
		t.Fatalf("answers %v, want one for each pool", seen)
	}
	px.Cut()
	failed := st.ProbePools(ctx, []string{"a", "b"})
	if len(failed) != 2 {
		t.Fatalf("probe during a cut = %v, want both pools failed", failed)
	}
	if count("a") != 1 || count("b") != 1 {
		t.Fatalf("a cut connection counted as an answer: %v", seen)
	}
	px.Restore()
	if failed := st.ProbePools(ctx, []string{"a"}); len(failed) != 0 || count("a") != 2 {
		t.Fatalf("after Restore: failed %v, answers %v", failed, seen)
	}
}

func TestPoolOfArgs(t *testing.T) {
	for args, want := range map[[3]string]string{
		{"evalsha", "abc", "kb:{p1}:all"}: "p1",
		{"exists", "kb:{x}:k:00ff", ""}:   "x",
		{"smembers", "kb:pools", ""}:      "",
		{"get", "kb:{}:all", ""}:          "",
	} {
		if got := poolOfArgs([]any{args[0], args[1], args[2]}); got != want {
			t.Errorf("poolOfArgs(%v) = %q, want %q", args, got, want)
		}
	}
}
