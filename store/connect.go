package store

import (
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisConfig says how to reach Redis.
type RedisConfig struct {
	// Addrs are redis:// or rediss:// URLs or host:port pairs. One address
	// is a single node; several are a Cluster; with MasterName they are
	// Sentinels.
	Addrs []string
	// MasterName selects Sentinel mode.
	MasterName string
	// Timeout bounds dialing, each read and write, and waiting for a pooled
	// connection, so an unreachable Redis fails calls fast instead of
	// hanging them.
	Timeout time.Duration
}

// Connect returns a go-redis UniversalClient for cfg. It does not dial;
// the first command does.
func Connect(cfg RedisConfig) (redis.UniversalClient, error) {
	if len(cfg.Addrs) == 0 {
		return nil, fmt.Errorf("no redis address given")
	}
	opts := &redis.UniversalOptions{MasterName: cfg.MasterName}
	for _, a := range cfg.Addrs {
		a = strings.TrimSpace(a)
		if !strings.Contains(a, "://") {
			opts.Addrs = append(opts.Addrs, a)
			continue
		}
		u, err := redis.ParseURL(a)
		if err != nil {
			// go-redis quotes the whole URL, password included, in its error.
			msg := strings.ReplaceAll(err.Error(), a, RedactURL(a))
			return nil, fmt.Errorf("redis address %s: %s", RedactURL(a), msg)
		}
		opts.Addrs = append(opts.Addrs, u.Addr)
		opts.Username, opts.Password, opts.DB, opts.TLSConfig = u.Username, u.Password, u.DB, u.TLSConfig
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = time.Second
	}
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout, opts.PoolTimeout = timeout, timeout, timeout, timeout
	// One command retry and one dial retry: a refused connection should
	// surface as UNAVAILABLE in tens of milliseconds, not after go-redis's
	// default five dials.
	opts.MaxRetries = 1
	opts.DialerRetries, opts.DialerRetryTimeout = 1, 50*time.Millisecond
	return redis.NewUniversalClient(opts), nil
}

// RedactURL hides the credentials of a Redis URL, for errors and logs.
func RedactURL(s string) string {
	at := strings.LastIndex(s, "@")
	scheme := strings.Index(s, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return s
	}
	return s[:scheme+3] + "REDACTED" + s[at:]
}
