package store

import (
	"fmt"
	"log/slog"
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
	// Hook, when set, observes every command (the metrics' latency and
	// error counts).
	Hook redis.Hook
	// Wait makes Open retry until Redis answers or ctx ends, logging each
	// failed attempt to Log, so that a broker started before its Redis
	// comes up on its own instead of crash-looping. Without it Open fails
	// at once when Redis does not answer.
	Wait bool
	// Log receives the waiting; nil discards.
	Log *slog.Logger
}

// connect returns a go-redis UniversalClient for cfg. It does not dial;
// the first command does.
func connect(cfg RedisConfig) (redis.UniversalClient, error) {
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
	var rdb redis.UniversalClient
	if len(opts.Addrs) > 1 && opts.MasterName == "" {
		rdb = newClusterClient(opts)
	} else {
		rdb = redis.NewUniversalClient(opts)
	}
	if cfg.Hook != nil {
		rdb.AddHook(cfg.Hook)
	}
	return rdb, nil
}

// clusterReload is how often a Cluster client refreshes its slot map.
// go-redis waits 60s by default, so after a master fails a broker would
// keep calling the dead node for up to a minute; a refresh is one CLUSTER
// SLOTS, cheap at this pace.
const clusterReload = 2 * time.Second

func newClusterClient(opts *redis.UniversalOptions) *redis.ClusterClient {
	co := opts.Cluster()
	co.ClusterStateReloadInterval = clusterReload
	return redis.NewClusterClient(co)
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
