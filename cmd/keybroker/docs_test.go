package main

import (
	"flag"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestEveryServeFlagIsDocumented keeps the flag table of
// docs/configuration.md and the flags of `keybroker serve` in step, both
// ways: a flag without a row fails, and so does a row without a flag.
func TestEveryServeFlagIsDocumented(t *testing.T) {
	checkFlagTable(t, "../../docs/configuration.md")
}

func checkFlagTable(t *testing.T, file string) {
	doc, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	start := strings.Index(string(doc), "## Flags")
	if start < 0 {
		t.Fatalf("%s has no flag table", file)
	}
	section := string(doc)[start:]
	documented := map[string]bool{}
	for _, row := range regexp.MustCompile("(?m)^\\| (`--[^|]+)\\|").FindAllStringSubmatch(section, -1) {
		for _, m := range regexp.MustCompile("`--([a-z-]+)`").FindAllStringSubmatch(row[1], -1) {
			documented[m[1]] = true
		}
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	(&serveFlags{}).register(fs)
	fs.VisitAll(func(f *flag.Flag) {
		if !documented[f.Name] {
			t.Errorf("flag --%s is not in %s", f.Name, file)
		}
		delete(documented, f.Name)
	})
	for name := range documented {
		t.Errorf("%s documents --%s, which serve does not have", file, name)
	}
}

// TestDeployFilesUseRealFlags reads the systemd unit and Kubernetes
// manifests under deploy/ and checks every --flag they pass to serve.
func TestDeployFilesUseRealFlags(t *testing.T) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	(&serveFlags{}).register(fs)
	files := []string{"../../deploy/keybroker.service", "../../deploy/kubernetes/sidecar.yaml", "../../deploy/kubernetes/shared.yaml"}
	seen := 0
	for _, name := range files {
		body, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`--([a-z][a-z-]+)`).FindAllStringSubmatch(string(body), -1) {
			seen++
			if fs.Lookup(m[1]) == nil {
				t.Errorf("%s passes --%s, which serve does not have", name, m[1])
			}
		}
	}
	if seen < 20 {
		t.Fatalf("found only %d flags in the deploy files", seen)
	}
}
