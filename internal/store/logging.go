package store

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/redis/go-redis/v9"
)

// RouteRedisLogs sends go-redis's own log lines (reconnects, cluster and
// sentinel changes, pool troubles) to log at warn level, so that they
// follow --log-format json like every other line instead of going to
// stderr as plain text.
//
// This is the one piece of process-wide state in keybroker: go-redis has
// no per-client logger, only redis.SetLogger, a package global. It is
// wrapped here, next to the only package that imports go-redis, and meant
// to be called once per process, by the command that owns the logger,
// before it opens Redis.
func RouteRedisLogs(log *slog.Logger) {
	redis.SetLogger(slogRedis{log})
}

// slogRedis is go-redis's Logging interface over slog.
type slogRedis struct{ log *slog.Logger }

// Printf logs one go-redis line: addresses and errors, never command
// arguments, so never a secret.
func (s slogRedis) Printf(ctx context.Context, format string, v ...any) {
	s.log.WarnContext(ctx, fmt.Sprintf(format, v...), "component", "go-redis")
}
