package config

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Load reads and validates the policy file at path. Errors name the file as
// path, with a line and field path each, all of them joined.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err // *fs.PathError already names the file
	}
	return Parse(path, data)
}

// Parse reads and validates a policy file held in memory; name stands for
// the file in error messages. An empty file is a valid empty configuration,
// the same as Default.
func Parse(name string, data []byte) (*Config, error) {
	r := &report{file: name, broken: map[int]bool{}}

	// The tree is read first and on its own: it carries the line of every
	// value for the messages below, and a file that is not YAML at all has
	// nothing more to say.
	root, err := parseTree(data)
	if err != nil {
		r.yaml(err)
		return nil, r.err()
	}
	r.root = root

	// The structs are decoded from the bytes again rather than with
	// root.Decode, because only a Decoder enforces KnownFields. Decode
	// errors (unknown fields, duplicate keys, bad durations) do not stop
	// validation: the fields that did decode are still checked, and
	// messages about a line yaml already complained about are dropped.
	cfg := Default()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		r.yaml(err)
	}
	if cfg.Pools == nil { // "pools:" with nothing after it
		cfg.Pools = map[string]Pool{}
	}

	validate(r, root, cfg)
	if err := r.err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// parseTree returns the root node of data's single YAML document, or nil
// for an empty file.
func parseTree(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, err
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, err
	default:
		return nil, fmt.Errorf("line %d: a second YAML document; the policy file holds exactly one", next.Line)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, nil
	}
	return doc.Content[0], nil
}

// lineError is one problem found in the file, at a line (0 when unknown).
type lineError struct {
	file string
	line int
	msg  string
}

func (e *lineError) Error() string {
	if e.line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.file, e.line, e.msg)
	}
	return fmt.Sprintf("%s: %s", e.file, e.msg)
}

// report collects every problem in one file so they are returned together.
type report struct {
	file     string
	problems []*lineError
	broken   map[int]bool // lines yaml could not decode
	root     *yaml.Node   // for the field path of yaml's messages; nil until parsed
}

// yamlLine splits yaml's "line N: message" (optionally after "yaml: ").
var yamlLine = regexp.MustCompile(`(?s)^(?:yaml: )?line (\d+): (.*)$`)

// yaml records an error from the yaml package, one problem per line it
// names, keeping yaml's message, turning "line N:" into "file:N:" and adding
// the field path written on that line.
func (r *report) yaml(err error) {
	var msgs []string
	if te, ok := errors.AsType[*yaml.TypeError](err); ok {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	for _, msg := range msgs {
		line := 0
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			line, _ = strconv.Atoi(m[1])
			msg = m[2]
			r.broken[line] = true
			if path := pathAt(r.root, line); path != "" {
				msg = path + ": " + msg
			}
		}
		r.problems = append(r.problems, &lineError{file: r.file, line: line, msg: msg})
	}
}

// at records a problem with the value at node n, whose field path is path,
// unless yaml already reported that line (one complaint per mistake).
func (r *report) at(n *yaml.Node, path, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	if r.broken[line] && line > 0 {
		return
	}
	msg := path + ": " + fmt.Sprintf(format, args...)
	r.problems = append(r.problems, &lineError{file: r.file, line: line, msg: msg})
}

// isBroken reports whether yaml failed to decode any of the given nodes, in
// which case their fields hold zero rather than what the file says.
func (r *report) isBroken(nodes ...*yaml.Node) bool {
	for _, n := range nodes {
		if n != nil && r.broken[n.Line] {
			return true
		}
	}
	return false
}

// err joins the problems in file order, or returns nil if there are none.
func (r *report) err() error {
	slices.SortStableFunc(r.problems, func(a, b *lineError) int { return cmp.Compare(a.line, b.line) })
	errs := make([]error, len(r.problems))
	for i, p := range r.problems {
		errs[i] = p
	}
	return errors.Join(errs...)
}

// pathAt returns the field path of the key written on line, for yaml's own
// messages, which name a line but not a path. When several keys share the
// deepest level on that line (flow style: {a: 1, b: 2}), it returns the path
// they have in common; "" when no key is on that line.
func pathAt(root *yaml.Node, line int) string {
	var found [][]string
	var walk func(n *yaml.Node, path []string)
	walk = func(n *yaml.Node, path []string) {
		if n == nil || n.Kind != yaml.MappingNode {
			return // aliases are not followed: their values live elsewhere
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			p := append(slices.Clip(path), n.Content[i].Value)
			if n.Content[i].Line == line {
				found = append(found, p)
			}
			walk(n.Content[i+1], p)
		}
	}
	walk(root, nil)
	if len(found) == 0 {
		return ""
	}
	depth := 0
	for _, p := range found {
		depth = max(depth, len(p))
	}
	var common []string
	for _, p := range found {
		switch {
		case len(p) < depth:
		case common == nil:
			common = p
		default:
			n := 0
			for n < len(common) && common[n] == p[n] {
				n++
			}
			common = common[:n]
		}
	}
	return strings.Join(common, ".")
}
