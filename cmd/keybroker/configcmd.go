package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/keybroker/keybroker/internal/config"
)

// configCheck runs `keybroker config check FILE…`: validate pool policy
// files without starting anything, for CI and before a reload.
func configCheck(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("keybroker config check", stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: keybroker config check FILE...\n\nValidate pool policy files without starting the broker.\n")
	}
	files, err := parseArgs(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil || len(files) == 0 {
		fs.Usage()
		return exitUsage
	}
	code := exitOK
	for _, path := range files {
		c, err := config.Load(path)
		if err != nil {
			fmt.Fprintln(stderr, err)
			code = exitFail
			continue
		}
		fmt.Fprintf(stdout, "%s: ok (%d pools declared)\n", path, len(c.PoolNames()))
	}
	return code
}

// noArgs parses a command that takes no flags and no arguments, so that
// -h prints its usage instead of doing the work (gen-token printing a real
// token). It returns the exit code to stop with, or -1 to go on.
func noArgs(name, summary string, args []string, stderr io.Writer) int {
	fs := newFlagSet("keybroker "+name, stderr)
	fs.Usage = func() { fmt.Fprintf(fs.Output(), "Usage: keybroker %s\n\n%s\n", name, summary) }
	rest, err := parseArgs(fs, args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case err != nil:
		return exitUsage
	case len(rest) > 0:
		fmt.Fprintf(stderr, "keybroker %s: unexpected arguments %q\n", name, rest)
		return exitUsage
	}
	return -1
}

// helpOrUsage is the exit code of a command line that did not parse: 0
// for -h, 2 otherwise.
func helpOrUsage(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	return exitUsage
}
