package config

import (
	"fmt"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Duration is a time.Duration written in YAML as a Go duration string
// ("90s", "5m", "1h30m"). It exists because yaml would otherwise read a
// duration as a bare integer of nanoseconds, which nobody writes on purpose.
type Duration time.Duration

// String formats d like time.Duration.String without trailing zero units
// ("1m" rather than "1m0s"), so messages and marshalled files read the way
// people write them.
func (d Duration) String() string {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// UnmarshalYAML reads a Go duration string. A bad value is reported as a
// *yaml.TypeError carrying the line, so the decoder keeps going and every
// problem in the file is reported together.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return &yaml.TypeError{Errors: []string{
			fmt.Sprintf("line %d: want a duration such as \"90s\" or \"1h\", not a %s", n.Line, kindName(n.Kind)),
		}}
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return &yaml.TypeError{Errors: []string{
			fmt.Sprintf("line %d: invalid duration %q: want a Go duration such as \"90s\" or \"1h\"", n.Line, n.Value),
		}}
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes d as a duration string that UnmarshalYAML reads back.
func (d Duration) MarshalYAML() (any, error) {
	return d.String(), nil
}

// kindName names a node kind for messages.
func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	default:
		return "non-scalar value"
	}
}
