package config

import (
	"errors"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func TestDurationRoundTrip(t *testing.T) {
	tests := []struct {
		in   string        // as written in YAML
		want time.Duration // as read
		out  string        // as String and MarshalYAML write it
	}{
		{"0s", 0, "0s"},
		{"0", 0, "0s"},
		{"500ms", 500 * time.Millisecond, "500ms"},
		{"1s", time.Second, "1s"},
		{"90s", 90 * time.Second, "1m30s"},
		{"60s", time.Minute, "1m"},
		{"5m", 5 * time.Minute, "5m"},
		{"10m0s", 10 * time.Minute, "10m"},
		{"1h", time.Hour, "1h"},
		{"1h30m", 90 * time.Minute, "1h30m"},
		{"1h0m5s", time.Hour + 5*time.Second, "1h0m5s"},
		{"24h", 24 * time.Hour, "24h"},
		{"-5s", -5 * time.Second, "-5s"},
		{"-2m", -2 * time.Minute, "-2m"},
		{`"1.5h"`, 90 * time.Minute, "1h30m"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var v struct {
				D Duration `yaml:"d"`
			}
			if err := yaml.Unmarshal([]byte("d: "+tt.in), &v); err != nil {
				t.Fatalf("Unmarshal(%s): %v", tt.in, err)
			}
			if time.Duration(v.D) != tt.want {
				t.Errorf("Unmarshal(%s) = %v, want %v", tt.in, time.Duration(v.D), tt.want)
			}
			if got := v.D.String(); got != tt.out {
				t.Errorf("String() = %q, want %q", got, tt.out)
			}
			data, err := yaml.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := string(data), "d: "+tt.out+"\n"; got != want {
				t.Errorf("Marshal = %q, want %q", got, want)
			}
			var back struct {
				D Duration `yaml:"d"`
			}
			if err := yaml.Unmarshal(data, &back); err != nil {
				t.Fatalf("Unmarshal(Marshal) %q: %v", data, err)
			}
			if back.D != v.D {
				t.Errorf("round trip %s -> %q -> %v", tt.in, data, time.Duration(back.D))
			}
		})
	}
}

func TestDurationUnmarshalErrors(t *testing.T) {
	tests := []struct {
		src  string
		want string
	}{
		{"d: soon", `line 1: invalid duration "soon"`},
		{"d: 300", `line 1: invalid duration "300"`},
		{"\n\nd: 5 m", `line 3: invalid duration "5 m"`},
		{"d: [1s]", "line 1: want a duration such as \"90s\" or \"1h\", not a list"},
		{"d: {s: 1}", "line 1: want a duration such as \"90s\" or \"1h\", not a mapping"},
	}
	for _, tt := range tests {
		var v struct {
			D Duration `yaml:"d"`
		}
		err := yaml.Unmarshal([]byte(tt.src), &v)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Unmarshal(%q) = %v, want an error containing %q", tt.src, err, tt.want)
		}
		typeError := &yaml.TypeError{}
		if !errors.As(err, &typeError) {
			t.Errorf("Unmarshal(%q) error is %T, want *yaml.TypeError so decoding continues", tt.src, err)
		}
	}
}
