package metrics

import (
	"context"
	"errors"
	"net"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisHook returns a go-redis hook recording each command's latency and
// failures. redis.Nil (a missing key) is an answer, not a failure.
func (m *Metrics) RedisHook() redis.Hook { return redisHook{m} }

type redisHook struct{ m *Metrics }

func (h redisHook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := next(ctx, network, addr)
		if err != nil {
			h.m.redisErrors.WithLabelValues("dial").Inc()
		}
		return conn, err
	}
}

func (h redisHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmd)
		if handshake(cmd) {
			err = nil
		}
		h.observe(strings.ToLower(cmd.Name()), start, err)
		return err
	}
}

func (h redisHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmds)
		h.observe("pipeline", start, pipelineErr(err, cmds))
		return err
	}
}

func (h redisHook) observe(command string, start time.Time, err error) {
	h.m.redisDuration.WithLabelValues(command).Observe(time.Since(start).Seconds())
	// NOSCRIPT is answered by loading the script again (redis.Script),
	// so it is routine after a Redis restart, not a failure.
	if err != nil && !errors.Is(err, redis.Nil) && !strings.HasPrefix(err.Error(), "NOSCRIPT") {
		h.m.redisErrors.WithLabelValues(command).Inc()
	}
}

// handshake reports whether cmd is part of go-redis's connection set-up
// that it lets fail: HELLO (Redis 6+), CLIENT SETINFO (7.2+) and CLIENT
// MAINT_NOTIFICATIONS (Redis Enterprise/8). go-redis ignores their
// refusal, so they are no failure of ours; counting them made a healthy
// Redis 7.0 look broken on every new connection.
func handshake(cmd redis.Cmder) bool {
	switch strings.ToLower(cmd.Name()) {
	case "hello":
		return true
	case "client":
		args := cmd.Args()
		sub, _ := args[min(1, len(args)-1)].(string)
		return strings.EqualFold(sub, "setinfo") || strings.EqualFold(sub, "maint_notifications")
	}
	return false
}

// pipelineErr is the error of a pipeline as the counter sees it: the
// first failed command that is not a handshake, or err itself when no
// command carries one (the connection failed).
func pipelineErr(err error, cmds []redis.Cmder) error {
	if err == nil {
		return nil
	}
	carried := false
	for _, c := range cmds {
		if c.Err() == nil {
			continue
		}
		carried = true
		if !handshake(c) {
			return c.Err()
		}
	}
	if carried {
		return nil
	}
	return err
}
