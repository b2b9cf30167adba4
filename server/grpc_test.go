package server

import (
	"strings"
	"testing"
)

func TestPanicTextKeepsRuntimeErrorsOnly(t *testing.T) {
	var runtimeErr any
	func() {
		defer func() { runtimeErr = recover() }()
		var s []int
		_ = s[3]
	}()
	if got := panicText(runtimeErr); !strings.Contains(got, "index out of range") {
		t.Errorf("runtime error logged as %q", got)
	}
	if got := panicText("key sk-leak-0001 broke"); strings.Contains(got, "sk-leak") || got != "string (value not logged)" {
		t.Errorf("formatted panic logged as %q", got)
	}
}
