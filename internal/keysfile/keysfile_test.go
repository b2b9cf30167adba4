package keysfile

import (
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	in := "# comment\n\nsk-one\nalpha\tsk-two\n  sk-three  \nbeta\t sk-four\r\nalpha\tsk-five\n"
	got, err := Parse(strings.NewReader(in), "main")
	if err != nil {
		t.Fatal(err)
	}
	want := []Batch{
		{Pool: "main", Secrets: []string{"sk-one", "sk-three"}},
		{Pool: "alpha", Secrets: []string{"sk-two", "sk-five"}},
		{Pool: "beta", Secrets: []string{"sk-four"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Parse = %+v, want %+v", got, want)
	}
}

func TestParseErrorsNameTheLineNotTheSecret(t *testing.T) {
	tests := []struct {
		name, in, pool, want string
	}{
		{"no default pool", "sk-secret-1\n", "", "line 1: no pool"},
		{"bad pool", "ok\tsk-a\nbad pool\tsk-secret-2\n", "", "line 2: pool name"},
		{"blank secret", "p\t   \n", "", "line 1: secret is blank"},
		{"inner space", "# c\nsk-secret 3\n", "p", "line 2: secret contains whitespace"},
		{"too long", "p\t" + strings.Repeat("x", 5000) + "\n", "", "line 1: secret is 5000 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tt.in), tt.pool)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Parse error = %v, want one containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "sk-secret") {
				t.Fatalf("error shows the secret: %v", err)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add("sk-a\np\tsk-b\n# c\n", "main")
	f.Add("\t\t\n", "")
	f.Fuzz(func(t *testing.T, in, pool string) {
		batches, err := Parse(strings.NewReader(in), pool)
		if err != nil {
			return
		}
		for _, b := range batches {
			if b.Pool == "" || len(b.Secrets) == 0 {
				t.Fatalf("empty batch %+v", b)
			}
			for _, s := range b.Secrets {
				if s == "" || strings.ContainsAny(s, " \t\r\n") {
					t.Fatalf("accepted secret %q", s)
				}
			}
		}
	})
}
