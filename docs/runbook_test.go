// Package docs holds the operator documentation. Its test runs the grpcurl
// runbook in admin.md against a real broker, so the page cannot rot.
package docs

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/keybroker/keybroker/internal/brokertest"
)

// step is one runbook block of admin.md: a ```sh block whose first line
// is "# runbook: NAME", with "# expect: TEXT" lines (each must appear in
// the output) and an optional "# exit: N" (default 0).
type step struct {
	name    string
	line    int
	script  string
	expects []string
	exit    int
}

// parseRunbook extracts the runbook blocks of a Markdown file, in order.
func parseRunbook(md []byte) ([]step, error) {
	var steps []step
	var cur *step
	inBlock := false
	sc := bufio.NewScanner(bytes.NewReader(md))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case !inBlock && line == "```sh":
			inBlock, cur = true, nil
		case inBlock && line == "```":
			inBlock = false
			if cur != nil {
				steps = append(steps, *cur)
			}
		case inBlock && cur == nil && strings.HasPrefix(line, "# runbook: "):
			cur = &step{name: strings.TrimPrefix(line, "# runbook: "), line: n}
		case cur != nil:
			if err := cur.add(line); err != nil {
				return nil, fmt.Errorf("line %d: %w", n, err)
			}
		}
	}
	return steps, sc.Err()
}

// add takes one line of a runbook block: a marker or part of the script.
func (s *step) add(line string) error {
	if v, ok := strings.CutPrefix(line, "# expect: "); ok {
		s.expects = append(s.expects, v)
		return nil
	}
	if v, ok := strings.CutPrefix(line, "# exit: "); ok {
		code, err := strconv.Atoi(v)
		s.exit = code
		return err
	}
	s.script += line + "\n"
	return nil
}

// captures are the values an operator copies from one output into later
// commands, by the variable the runbook uses for them.
var captures = map[string]*regexp.Regexp{
	"KEY_ID":     regexp.MustCompile(`"keyId": "([0-9a-f]{16})"`),
	"LEASE_ID":   regexp.MustCompile(`"leaseId": "([^"]+)"`),
	"PAGE_TOKEN": regexp.MustCompile(`"nextPageToken": "([^"]+)"`),
}

func TestAdminRunbook(t *testing.T) {
	grpcurl, err := buildGrpcurl()
	if err != nil {
		t.Fatal(err)
	}
	if err := buildKeybroker(); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile("admin.md")
	if err != nil {
		t.Fatal(err)
	}
	steps, err := parseRunbook(md)
	if err != nil {
		t.Fatalf("admin.md: %v", err)
	}
	if len(steps) < 10 {
		t.Fatalf("admin.md has %d runbook blocks; the markers must have been lost", len(steps))
	}
	b := brokertest.Start(t, nil)
	vars := map[string]string{"KEYBROKER_ADDR": b.Addr}
	env := append(os.Environ(), "PATH="+filepath.Dir(grpcurl)+string(os.PathListSeparator)+os.Getenv("PATH"))
	for _, s := range steps {
		cmd := exec.Command("sh", "-eu", "-c", s.script)
		cmd.Env = env
		for k, v := range vars {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		out, err := cmd.CombinedOutput()
		code := exitCode(err)
		if code != s.exit {
			t.Fatalf("admin.md:%d %s: exit %d (%v), want %d:\n%s\n%s", s.line, s.name, code, err, s.exit, s.script, out)
		}
		for _, want := range s.expects {
			if !strings.Contains(string(out), want) {
				t.Fatalf("admin.md:%d %s: output lacks %q:\n%s", s.line, s.name, want, out)
			}
		}
		for name, re := range captures {
			if m := re.FindSubmatch(out); m != nil {
				vars[name] = string(m[1])
			}
		}
	}
}

func exitCode(err error) int {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	return -1
}

// toolDir holds the built grpcurl; TestMain removes it.
var toolDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if toolDir != "" {
		_ = os.RemoveAll(toolDir)
	}
	os.Exit(code)
}

// buildGrpcurl builds the grpcurl pinned by the tool directive in go.mod,
// once per test run, so the runbook is checked with the version it names
// and a fresh machine needs nothing installed by hand. From a warm build
// cache this is a link step (about 2s); cold, about 15s on 2 cores.
var buildGrpcurl = sync.OnceValues(func() (string, error) {
	var err error
	if toolDir, err = os.MkdirTemp("", "keybroker-grpcurl"); err != nil {
		return "", err
	}
	bin := filepath.Join(toolDir, "grpcurl")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/fullstorydev/grpcurl/cmd/grpcurl").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("build the pinned grpcurl (go.mod tool directive): %w\n%s", err, out)
	}
	return bin, nil
})

// buildKeybroker builds the keybroker binary next to grpcurl, so the
// runbook's `keybroker …` commands run the code of this checkout.
var buildKeybroker = sync.OnceValue(func() error {
	if _, err := buildGrpcurl(); err != nil {
		return err
	}
	out, err := exec.Command("go", "build", "-o", filepath.Join(toolDir, "keybroker"), "github.com/keybroker/keybroker/cmd/keybroker").CombinedOutput()
	if err != nil {
		return fmt.Errorf("build keybroker: %w\n%s", err, out)
	}
	return nil
})
