package main

import (
	"flag"
	"fmt"
	"sort"
	"strings"

	"github.com/keybroker/keybroker/client"
)

// command is one admin subcommand. setup declares its own flags on fs and
// returns what to run once the command line is parsed and the broker
// dialled.
type command struct {
	name     string // "keys list"
	synopsis string // arguments after the flags
	summary  string
	setup    func(fs *flag.FlagSet) runFunc
}

type runFunc func(env adminEnv, kb *client.Client, args []string) error

// runCommand parses flags, dials the broker and runs cmd, turning any
// error into one line on stderr and an exit code.
func runCommand(cmd command, env adminEnv, args []string) int {
	fs := flag.NewFlagSet("keybroker "+cmd.name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: keybroker %s [flags] %s\n\n%s\n\nFlags:\n", cmd.name, cmd.synopsis, cmd.summary)
		fs.PrintDefaults()
	}
	var conn connFlags
	run := cmd.setup(fs)
	positional, err := parseAdminFlags(fs, &conn, env, args)
	if err != nil {
		return exitCode(cmd.name, err, &conn, env.stderr)
	}
	kb, err := conn.dial()
	if err != nil {
		return exitCode(cmd.name, usageError{err.Error()}, &conn, env.stderr)
	}
	defer kb.Close()
	return exitCode(cmd.name, run(env, kb, positional), &conn, env.stderr)
}

// dispatch runs the subcommand of group (such as "keys") named by args[0].
func dispatch(group string, cmds []command, env adminEnv, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(env.stderr, groupUsage(group, cmds))
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range cmds {
		if c.name == group+" "+args[0] {
			return runCommand(c, env, args[1:])
		}
	}
	fmt.Fprintf(env.stderr, "keybroker %s: unknown command %q; run \"keybroker %s\" for the list\n", group, args[0], group)
	return exitUsage
}

func groupUsage(group string, cmds []command) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Usage:\n")
	sorted := append([]command(nil), cmds...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].name < sorted[j].name })
	for _, c := range sorted {
		fmt.Fprintf(&b, "  keybroker %-12s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(&b, "\nRun \"keybroker %s COMMAND -h\" for its flags.\n", group)
	return b.String()
}

// requirePool checks that --pool was given.
func requirePool(pool string) error {
	if pool == "" {
		return usagef("--pool is required")
	}
	return nil
}
