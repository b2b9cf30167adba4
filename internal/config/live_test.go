package config

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keybroker/keybroker/internal/testkit"
)

func writeAt(t *testing.T, path, body string, mtime time.Time) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

// waitLimit and poll are how long and how often tests wait on asynchronous
// work (testkit.Eventually); the limit only keeps a broken test from
// hanging, it judges nothing.
const (
	waitLimit = 5 * time.Second
	poll      = 10 * time.Millisecond
)

func TestLiveReloadsOnChangeAndKeepsTheOldOnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pools.yaml")
	base := time.Now().Add(-time.Hour)
	writeAt(t, path, "defaults:\n  cooldown_default: 5s\n", base)
	l, err := NewLive(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Pool("any").CooldownDefault.String(); got != "5s" {
		t.Fatalf("cooldown_default = %s, want 5s", got)
	}
	logs := &testkit.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hup := make(chan os.Signal, 1)
	go l.Watch(ctx, 10*time.Millisecond, hup, slog.New(slog.NewTextHandler(logs, nil)))

	writeAt(t, path, "defaults:\n  cooldown_default: 45s\n", base.Add(time.Minute))
	testkit.Eventually(t, waitLimit, poll, "the changed file to load", func() bool { return l.Pool("any").CooldownDefault.String() == "45s" })

	writeAt(t, path, "defaults:\n  cooldown_defualt: 1s\n", base.Add(2*time.Minute))
	testkit.Eventually(t, waitLimit, poll, "the reload error to be logged", func() bool { return strings.Contains(logs.String(), "config reload failed") })
	if got := l.Pool("any").CooldownDefault.String(); got != "45s" {
		t.Fatalf("a broken file replaced the configuration: cooldown_default = %s", got)
	}
	if !strings.Contains(logs.String(), "pools.yaml:2: defaults.cooldown_defualt") {
		t.Errorf("reload error does not name the line:\n%s", logs)
	}

	// SIGHUP reloads even when size and time look the same.
	writeAt(t, path, "defaults:\n  cooldown_default: 7s\n", base.Add(2*time.Minute))
	hup <- os.Interrupt
	testkit.Eventually(t, waitLimit, poll, "SIGHUP to reload", func() bool { return l.Pool("any").CooldownDefault.String() == "7s" })
}

func TestLiveWithoutFile(t *testing.T) {
	l, err := NewLive("")
	if err != nil {
		t.Fatal(err)
	}
	if l.Pool("p").Provider != "openai" {
		t.Fatalf("default pool = %+v", l.Pool("p"))
	}
	if _, err := NewLive(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Fatal("missing file accepted at start")
	}
}

// Someone (or a botched deploy) empties the policy file: `: > pools.yaml`.
// The watcher must not reset every declared pool to the built-ins on its
// own; it keeps the policy in force and says so at WARN, until an operator
// sends SIGHUP.
func TestLiveRefusesAnEmptiedPolicyUnlessTold(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pools.yaml")
	base := time.Now().Add(-time.Hour)
	writeAt(t, path, "pools:\n  slow:\n    cooldown_default: 45s\n", base)
	l, err := NewLive(path)
	if err != nil {
		t.Fatal(err)
	}
	logs := &testkit.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hup := make(chan os.Signal, 1)
	go l.Watch(ctx, 10*time.Millisecond, hup, slog.New(slog.NewTextHandler(logs, nil)))

	writeAt(t, path, "", base.Add(time.Minute))
	testkit.Eventually(t, waitLimit, poll, "the refusal to be logged", func() bool { return strings.Contains(logs.String(), "config reload refused") })
	if !strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("refusal not logged at WARN:\n%s", logs)
	}
	if got := l.Pool("slow").CooldownDefault.String(); got != "45s" {
		t.Fatalf("an emptied file reset the pool: cooldown_default = %s, want 45s", got)
	}
	if _, err := l.Reload(); !errors.Is(err, ErrEmptyPolicy) {
		t.Fatalf("Reload of the emptied file = %v, want ErrEmptyPolicy", err)
	}

	hup <- os.Interrupt
	testkit.Eventually(t, waitLimit, poll, "SIGHUP to apply the empty policy", func() bool { return len(l.Current().PoolNames()) == 0 })
}

// AllowEmpty (--config-allow-empty) applies an empty policy without SIGHUP.
func TestLiveAllowEmpty(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pools.yaml")
	base := time.Now().Add(-time.Hour)
	writeAt(t, path, "pools:\n  slow:\n    cooldown_default: 45s\n", base)
	l, err := NewLive(path, AllowEmpty(true))
	if err != nil {
		t.Fatal(err)
	}
	writeAt(t, path, "", base.Add(time.Minute))
	if changed, err := l.Reload(); err != nil || !changed || len(l.Current().PoolNames()) != 0 {
		t.Fatalf("Reload = %v, %v; pools %v", changed, err, l.Current().PoolNames())
	}
}
