package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/keybroker/keybroker/internal/buildinfo"
)

// binaryVersion is this binary's version: main.version when set with
// -ldflags, else the module version and commit from its build info.
func binaryVersion() buildinfo.Version { return buildinfo.Read(version) }

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
