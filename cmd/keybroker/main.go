// Command keybroker runs the key broker and its admin tools.
//
//	keybroker serve [flags]    run the gRPC service and the validation worker
//	keybroker worker [flags]   run the validation worker alone
//	keybroker version          print the version
//
// Every flag can also be set with an environment variable:
// --redis-master-name is KEYBROKER_REDIS_MASTER_NAME, and so on. Flags win.
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
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `keybroker owns pools of provider API keys and leases them to callers over gRPC.

Usage:
  keybroker serve [flags]   run the broker and its validation worker (embedded store when no --redis is given)
  keybroker worker [flags]  run the validation worker alone, against --redis
  keybroker version         print the version

Run "keybroker serve -h" or "keybroker worker -h" for the flags and their KEYBROKER_* variables.
`

// run is main without process globals, so tests can drive it.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], getenv, stderr)
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
