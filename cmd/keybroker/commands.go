package main

import (
	"fmt"
	"strings"
)

// topCommand is one command of the binary. The table returned by commands
// drives both dispatch and the usage text, so a command cannot be
// reachable without being listed, or listed without being reachable.
type topCommand struct {
	name     string
	synopsis string
	summary  string
	// sub lists a group's subcommands (keys, pools) for the usage text;
	// run dispatches among them.
	sub []command
	run func(env adminEnv, args []string) int
}

// commands is the table of every command, in the order the usage lists
// them.
func commands() []topCommand {
	return []topCommand{
		{name: "serve", synopsis: "[flags]", summary: "run the broker and its validation worker (embedded store when no --redis)",
			run: func(env adminEnv, args []string) int { return serve(env.ctx, args, env.getenv, env.stderr) }},
		{name: "worker", synopsis: "[flags]", summary: "run the validation worker alone, against --redis",
			run: func(env adminEnv, args []string) int { return workerCommand(env.ctx, args, env.getenv, env.stderr) }},
		{name: "status", synopsis: "[flags]", summary: "one screen of a running deployment: pools, counts, worker, store, version",
			run: func(env adminEnv, args []string) int { return runCommand(statusCommand, env, args) }},
		{name: "keys", sub: keysCommands, run: keys},
		{name: "pools", sub: poolsCommands, run: pools},
		{name: "config check", synopsis: "FILE...", summary: "validate pool policy files without starting",
			run: func(env adminEnv, args []string) int { return configCheck(args, env.stdout, env.stderr) }},
		{name: "rekey", synopsis: "[flags]", summary: "re-encrypt stored secrets with the primary data key, online",
			run: func(env adminEnv, args []string) int { return rekey(env.ctx, args, env.getenv, env.stdout, env.stderr) }},
		{name: "genkey", synopsis: "[--id ID]", summary: "print a new data key line for --encryption-key-file",
			run: func(env adminEnv, args []string) int { return genKey(args, env.stdout, env.stderr) }},
		{name: "gen-token", summary: "print a new bearer token and its SHA-256 for --auth-file",
			run: func(env adminEnv, args []string) int { return genToken(args, env.stdout, env.stderr) }},
		{name: "hash-token", summary: "print the SHA-256 of the token on standard input",
			run: func(env adminEnv, args []string) int { return hashToken(args, env.stdin, env.stdout, env.stderr) }},
		{name: "bench", synopsis: "[flags]", summary: "measure GetRandom on loopback against gRPC itself and per-call Redis",
			run: func(env adminEnv, args []string) int {
				return benchCmd(env.ctx, args, env.getenv, env.stdin, env.stdout, env.stderr)
			}},
		{name: "version", synopsis: "[-o json]", summary: "print the module version and the commit it was built from",
			run: func(env adminEnv, args []string) int { return versionCmd(args, env.stdout, env.stderr) }},
		{name: "help", summary: "print this list",
			run: func(env adminEnv, _ []string) int { fmt.Fprint(env.stdout, usage(commands())); return exitOK }},
	}
}

// dispatchTop runs the command named by args, which may take two words
// ("config check").
func dispatchTop(cmds []topCommand, env adminEnv, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(env.stderr, usage(cmds))
		return exitUsage
	}
	switch args[0] {
	case "-h", "--help":
		fmt.Fprint(env.stdout, usage(cmds))
		return exitOK
	case "--version":
		args = []string{"version"}
	}
	for _, c := range cmds {
		words := strings.Fields(c.name)
		if len(args) >= len(words) && strings.Join(args[:len(words)], " ") == c.name {
			return c.run(env, args[len(words):])
		}
	}
	if args[0] == "config" {
		fmt.Fprintf(env.stderr, "Usage: keybroker config check FILE...\n")
		return exitUsage
	}
	fmt.Fprintf(env.stderr, "keybroker: unknown command %q\n\n%s", args[0], usage(cmds))
	return exitUsage
}

// usage is the binary's help, written from the command table.
func usage(cmds []topCommand) string {
	var b strings.Builder
	b.WriteString("keybroker owns pools of provider API keys and leases them to callers over gRPC.\n\nUsage:\n")
	line := func(name, synopsis, summary string) {
		fmt.Fprintf(&b, "  keybroker %-30s %s\n", strings.TrimSpace(name+" "+synopsis), summary)
	}
	for _, c := range cmds {
		if len(c.sub) == 0 {
			line(c.name, c.synopsis, c.summary)
			continue
		}
		for _, s := range c.sub {
			line(s.name, s.synopsis, s.summary)
		}
	}
	b.WriteString(`
Run "keybroker COMMAND -h" for a command's flags. serve and worker read every
flag from a KEYBROKER_* variable too (--redis is $KEYBROKER_REDIS); the admin
commands reach the broker at --addr or $KEYBROKER_ADDR (default
127.0.0.1:50051). docs/admin.md has the same tasks as grpcurl commands.
`)
	return b.String()
}
