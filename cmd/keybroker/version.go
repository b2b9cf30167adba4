package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// buildVersion is what `keybroker version` and keybroker_build_info say
// about this binary.
type buildVersion struct {
	Version   string `json:"version"`
	Revision  string `json:"revision,omitempty"`
	Time      string `json:"time,omitempty"`
	Modified  bool   `json:"modified,omitempty"`
	GoVersion string `json:"goVersion"`
}

// readVersion reads the version from the binary's build information: the
// module version for `go install …@v1.2.3`, "(devel)" for a build in a
// checkout, with the commit when the build recorded it (-buildvcs). A
// version set with -ldflags wins over the module version.
func readVersion(info *debug.BuildInfo, ok bool, ldflag string) buildVersion {
	v := buildVersion{Version: cmp.Or(ldflag, "(devel)"), GoVersion: runtime.Version()}
	if !ok {
		return v
	}
	if ldflag == "" && info.Main.Version != "" {
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

// String is the version with its commit and Go release, as
// `keybroker version` and the status page show it.
func (v buildVersion) String() string {
	s := v.Version
	if v.Revision != "" {
		s += " commit " + v.Revision
		if v.Modified {
			s += " (modified)"
		}
	}
	return s + " " + v.GoVersion
}

func binaryVersion() buildVersion {
	info, ok := debug.ReadBuildInfo()
	return readVersion(info, ok, version)
}

func versionCmd(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("keybroker version", stderr)
	output := fs.String("o", "text", "output format: text or json")
	rest, err := parseArgs(fs, args)
	if err != nil || len(rest) > 0 || (*output != "text" && *output != "json") {
		if err == nil {
			fmt.Fprintf(stderr, "keybroker version: -o %q and no arguments: want -o text or -o json\n", *output)
		}
		return helpOrUsage(err)
	}
	v := binaryVersion()
	if *output == "json" {
		b, _ := json.MarshalIndent(v, "", "  ")
		fmt.Fprintln(stdout, string(b))
		return exitOK
	}
	fmt.Fprintln(stdout, "keybroker", v)
	return exitOK
}
