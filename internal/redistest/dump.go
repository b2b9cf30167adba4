package redistest

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
)

// Dump returns everything a Redis holds, as an attacker with access to it
// would read it: every key name, its DUMP serialisation, and its decoded
// members and values. Tests search it for secrets that must not be there.
func Dump(t testing.TB, rdb redis.UniversalClient) string {
	t.Helper()
	ctx := context.Background()
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		var sb strings.Builder
		var mu sync.Mutex
		err := cc.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			out := dumpNode(t, node)
			mu.Lock()
			defer mu.Unlock()
			sb.WriteString(out)
			return nil
		})
		if err != nil {
			t.Fatalf("dump cluster: %v", err)
		}
		return sb.String()
	}
	return dumpNode(t, rdb)
}

// dumpNode walks one node's keys (SCAN does not span a cluster).
func dumpNode(t testing.TB, rdb redis.Cmdable) string {
	ctx := context.Background()
	var sb strings.Builder
	iter := rdb.Scan(ctx, 0, "*", 100).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		sb.WriteString(k + "\n")
		dump, err := rdb.Dump(ctx, k).Result()
		if err != nil {
			t.Errorf("DUMP %s: %v", k, err)
			continue
		}
		sb.WriteString(dump + "\n")
		sb.WriteString(decoded(ctx, rdb, k) + "\n")
	}
	if err := iter.Err(); err != nil {
		t.Errorf("SCAN: %v", err)
	}
	return sb.String()
}

// decoded renders a key's contents; DUMP alone may be compressed.
func decoded(ctx context.Context, rdb redis.Cmdable, k string) string {
	switch rdb.Type(ctx, k).Val() {
	case "hash":
		var parts []string
		for f, v := range rdb.HGetAll(ctx, k).Val() {
			parts = append(parts, f+"="+v)
		}
		return strings.Join(parts, " ")
	case "string":
		return rdb.Get(ctx, k).Val()
	case "set":
		return strings.Join(rdb.SMembers(ctx, k).Val(), " ")
	case "zset":
		return strings.Join(rdb.ZRange(ctx, k, 0, -1).Val(), " ")
	case "list":
		return strings.Join(rdb.LRange(ctx, k, 0, -1).Val(), " ")
	case "stream":
		var parts []string
		for _, m := range rdb.XRange(ctx, k, "-", "+").Val() {
			for f, v := range m.Values {
				parts = append(parts, f+"="+toString(v))
			}
		}
		return strings.Join(parts, " ")
	}
	return ""
}

func toString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return ""
}
