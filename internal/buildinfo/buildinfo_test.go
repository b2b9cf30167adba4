package buildinfo

import (
	"runtime/debug"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	info := &debug.BuildInfo{GoVersion: "go1.99", Main: debug.Module{Version: "v1.4.0"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123abc"}, {Key: "vcs.modified", Value: "true"}}}
	if got := FromBuildInfo(info, true, "").String(); got != "v1.4.0 commit 0123abc (modified) go1.99" {
		t.Fatalf("version = %q", got)
	}
	if got := FromBuildInfo(info, true, "v9-custom").Version; got != "v9-custom" {
		t.Fatalf("ldflags version = %q, want it to win", got)
	}
	if got := FromBuildInfo(nil, false, "").Version; got != "(devel)" {
		t.Fatalf("no build info: %q", got)
	}
}
