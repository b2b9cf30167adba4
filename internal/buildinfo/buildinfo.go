// Package buildinfo says which build of keybroker is running, from the
// binary's own build information (debug.ReadBuildInfo), so that `go
// install …@v1.2.3` reports v1.2.3 and its commit without any -ldflags.
package buildinfo

import (
	"cmp"
	"runtime"
	"runtime/debug"
)

// Version is what `keybroker version`, keybroker_build_info, GetStatus and
// the status page report.
type Version struct {
	Version   string `json:"version"`
	Revision  string `json:"revision,omitempty"`
	Time      string `json:"time,omitempty"`
	Modified  bool   `json:"modified,omitempty"`
	GoVersion string `json:"goVersion"`
}

// Read reads this binary's version. override, when not empty, is a
// release name set with -ldflags and wins over the module version.
func Read(override string) Version {
	info, ok := debug.ReadBuildInfo()
	return FromBuildInfo(info, ok, override)
}

// FromBuildInfo reads a version from build information: the module
// version for `go install …@v1.2.3`, "(devel)" for a build in a checkout,
// with the commit when the build recorded it (-buildvcs).
func FromBuildInfo(info *debug.BuildInfo, ok bool, override string) Version {
	v := Version{Version: cmp.Or(override, "(devel)"), GoVersion: runtime.Version()}
	if !ok {
		return v
	}
	if override == "" && info.Main.Version != "" {
		v.Version = info.Main.Version
	}
	v.GoVersion = info.GoVersion
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.time":
			v.Time = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

// String is the version with its commit and Go release.
func (v Version) String() string {
	s := v.Version
	if v.Revision != "" {
		s += " commit " + v.Revision
		if v.Modified {
			s += " (modified)"
		}
	}
	return s + " " + v.GoVersion
}
