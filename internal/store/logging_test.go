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
	if _, err := Open(context.Background(), RedisConfig{Addrs: []string{"127.0.0.1:1"}, MasterName: "nobody", Timeout: 50 * time.Millisecond}); err == nil {
		t.Fatal("Open reached a sentinel on port 1")
	}
	testkit.Eventually(t, 10*time.Second, 20*time.Millisecond, "go-redis logs a line", func() bool { return buf.String() != "" })
	line, _, _ := strings.Cut(buf.String(), "\n")
	var rec map[string]any
	if err := json.Unmarshal([]byte(line), &rec); err != nil || rec["component"] != "go-redis" || rec["level"] != "WARN" {
		t.Fatalf("go-redis line is not a slog JSON record: %q (%v)", line, err)
	}
}
