// Command keybroker runs the key broker and its admin tools.
//
//	keybroker serve [flags]    run the gRPC service and the validation worker
//	keybroker worker [flags]   run the validation worker alone
//	keybroker config check F   validate pool policy files
//	keybroker rekey [flags]    re-encrypt secrets with the primary data key
//	keybroker genkey           print a new data key
//	keybroker gen-token        print a new bearer token and its hash
//	keybroker hash-token       hash a token read from standard input
//	keybroker keys ...         add, list, remove, import and export keys
//	keybroker pools POOL...    show pools with their key counts
//	keybroker bench [flags]    measure GetRandom against gRPC itself (see docs/benchmarks.md)
//	keybroker version          print the version
//
// Every flag can also be set with an environment variable:
// --redis-master-name is KEYBROKER_REDIS_MASTER_NAME, and so on. Flags win.
// The admin commands talk to a running broker over gRPC, at --addr or
// KEYBROKER_ADDR (default 127.0.0.1:50051), never to Redis directly.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `keybroker owns pools of provider API keys and leases them to callers over gRPC.

Usage:
  keybroker serve [flags]        run the broker and its validation worker (embedded store when no --redis)
  keybroker worker [flags]       run the validation worker alone, against --redis
  keybroker keys add|list|remove|import|export [flags]
                                 manage a pool's keys on a running broker
  keybroker pools POOL...        show pools with their key counts per state
  keybroker config check FILE    validate pool policy files without starting
  keybroker rekey [flags]        re-encrypt stored secrets with the primary data key, online
  keybroker genkey               print a new data key line for --encryption-key-file
  keybroker gen-token            print a new bearer token and its SHA-256 for --auth-file
  keybroker hash-token           print the SHA-256 of the token on standard input
  keybroker bench [flags]        measure GetRandom on loopback against gRPC itself and per-call Redis
  keybroker version              print the version

Run "keybroker serve -h" or "keybroker worker -h" for the flags and their KEYBROKER_* variables, and
"keybroker keys" for the admin commands. Admin commands reach the broker at
--addr or $KEYBROKER_ADDR (default 127.0.0.1:50051); docs/admin.md has the
same tasks as grpcurl commands.
`

// run is main without process globals, so tests can drive it.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "bench":
		return benchCmd(ctx, args[1:], getenv, stdin, stdout, stderr)
	case "serve":
		return serve(ctx, args[1:], getenv, stderr)
	case "rekey":
		return rekey(ctx, args[1:], getenv, stdout, stderr)
	case "config":
		return configCmd(args[1:], stdout, stderr)
	case "genkey":
		return genKey(args[1:], stdout, stderr)
	case "gen-token":
		return genToken(stdout, stderr)
	case "hash-token":
		return hashToken(stdin, stdout, stderr)
	case "keys":
		return keys(adminEnv{ctx, getenv, stdin, stdout, stderr}, args[1:])
	case "pools":
		return pools(adminEnv{ctx, getenv, stdin, stdout, stderr}, args[1:])
	case "worker":
		return workerCommand(ctx, args[1:], getenv, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "keybroker", version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "keybroker: unknown command %q\n\n%s", args[0], usage)
	return 2
}
