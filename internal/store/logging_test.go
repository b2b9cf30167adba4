package store

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/keybroker/keybroker/internal/testkit"
)

// TestRedisLogsGoThroughSlog: a go-redis log line (a sentinel that does
// not answer) comes out as a JSON slog record, not as go-redis's own plain
// text on stderr.
func TestRedisLogsGoThroughSlog(t *testing.T) {
	var buf testkit.Buffer
	RouteRedisLogs(slog.New(slog.NewJSONHandler(&buf, nil)))
	rdb, err := Connect(RedisConfig{Addrs: []string{"127.0.0.1:1"}, MasterName: "nobody", Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	_ = rdb.Ping(context.Background()).Err()
	testkit.Eventually(t, 10*time.Second, 20*time.Millisecond, "go-redis logs a line", func() bool { return buf.String() != "" })
	line, _, _ := strings.Cut(buf.String(), "\n")
	var rec map[string]any
	if err := json.Unmarshal([]byte(line), &rec); err != nil || rec["component"] != "go-redis" || rec["level"] != "WARN" {
		t.Fatalf("go-redis line is not a slog JSON record: %q (%v)", line, err)
	}
}
