package config

import (
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// poolFields lists the YAML paths of every Pool field, nested structs as
// "parent" and "parent.child", from the struct tags: the code's truth.
func poolFields(t reflect.Type, parent string) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		path := name
		if parent != "" {
			path = parent + "." + name
		}
		out = append(out, path)
		if f.Type.Kind() == reflect.Struct {
			out = append(out, poolFields(f.Type, path)...)
		}
	}
	return out
}

// documentedFields reads the first column of the pool field table.
func documentedFields(t *testing.T) []string {
	t.Helper()
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	section := string(doc)
	start := strings.Index(section, "## Pool policy file")
	end := strings.Index(section, "## Flags")
	if start < 0 || end < start {
		t.Fatal("docs/configuration.md lost its sections")
	}
	var out []string
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z_.]+)` \\|").FindAllStringSubmatch(section[start:end], -1) {
		out = append(out, m[1])
	}
	return out
}

func TestEveryPoolFieldIsDocumented(t *testing.T) {
	code := poolFields(reflect.TypeFor[Pool](), "")
	doc := documentedFields(t)
	slices.Sort(code)
	slices.Sort(doc)
	for _, f := range code {
		if !slices.Contains(doc, f) {
			t.Errorf("pool field %q is not in docs/configuration.md", f)
		}
	}
	for _, f := range doc {
		if !slices.Contains(code, f) {
			t.Errorf("docs/configuration.md documents %q, which config.Pool does not have", f)
		}
	}
}
