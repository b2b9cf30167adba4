package store

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// AnswerHook returns a go-redis hook that calls answered after every
// command Redis really answered (a reply, redis.Nil or an error Redis
// itself gave, but not a node that is down, failing over or out of
// reach): with the pool whose keys the command touched, or "" for a
// command outside any pool (PING, kb:pools). On Redis Cluster each pool
// lives in one slot, so a pool's answers say whether the master holding
// that slot is alive, which a PING to some other node cannot: freshness
// must be measured per pool, from the pool's own reads.
func AnswerHook(answered func(pool string)) redis.Hook { return answerHook{answered} }

type answerHook struct{ answered func(pool string) }

func (answerHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h answerHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if IsAnswer(err) { // go-redis does not always stamp a failure on cmd itself
			h.observe(cmd)
		}
		return err
	}
}

func (h answerHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		if !IsAnswer(err) {
			// go-redis does not always stamp a transport failure on
			// every command of the pipeline: trust none of them.
			return err
		}
		for _, c := range cmds {
			h.observe(c)
		}
		return err
	}
}

func (h answerHook) observe(cmd redis.Cmder) {
	if !IsAnswer(cmd.Err()) {
		return
	}
	h.answered(poolOfArgs(cmd.Args()))
}

// IsAnswer reports whether err (nil included) is an answer from a live
// Redis node, as opposed to a node that is out of reach, loading, failing
// over or refusing because its cluster is down.
func IsAnswer(err error) bool {
	if err == nil || errors.Is(err, redis.Nil) {
		return true
	}
	var nerr net.Error
	if errors.As(err, &nerr) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return false
	}
	var rerr redis.Error
	if !errors.As(err, &rerr) {
		return false
	}
	msg := rerr.Error()
	for _, p := range []string{"LOADING", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN", "READONLY", "BUSY", "MOVED", "ASK"} {
		if strings.HasPrefix(msg, p) {
			return false
		}
	}
	return true
}

// poolOfArgs finds the pool of the first kb:{pool}: key among a command's
// arguments; "" when there is none.
func poolOfArgs(args []any) string {
	for _, a := range args {
		s, ok := a.(string)
		if !ok || !strings.HasPrefix(s, "kb:{") {
			continue
		}
		if end := strings.Index(s, "}:"); end > len("kb:{") {
			return s[len("kb:{"):end]
		}
	}
	return ""
}

// ProbePools reads one small key of each pool, a few at a time, and
// returns the pools whose node did not answer with the error. Together
// with AnswerHook it keeps per-pool freshness current for pools nobody
// happens to read. Each probe is its own command (not a pipeline), so one
// dead Cluster node fails only the pools in its slots.
func (s *Store) ProbePools(ctx context.Context, pools []string) map[string]error {
	errs := make([]error, len(pools))
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for i, name := range pools {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs[i] = s.rdb.Exists(ctx, prefix(name)+"all").Err()
		}()
	}
	wg.Wait()
	var failed map[string]error
	for i, err := range errs {
		if !IsAnswer(err) {
			if failed == nil {
				failed = map[string]error{}
			}
			failed[pools[i]] = fmt.Errorf("probe pool %q: %w", pools[i], err)
		}
	}
	return failed
}
