// Command keybroker runs the key broker and its admin tools. Run it with
// no arguments for the list of commands; the table in commands.go is that
// list, the dispatch and the help in one place.
//
// Every flag of serve and worker can also be set with an environment
// variable: --redis-master-name is KEYBROKER_REDIS_MASTER_NAME, and so on.
// Flags win. The admin commands talk to a running broker over gRPC, at
// --addr or KEYBROKER_ADDR (default 127.0.0.1:50051), never to Redis
// directly, and read only their connection flags from the environment.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is the release name when set at build time with
// -ldflags "-X main.version=…"; otherwise `keybroker version` reads the
// module version and commit from the binary's build information.
var version = ""

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is main without process globals, so tests can drive it.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	return dispatchTop(commands(), adminEnv{ctx, getenv, stdin, stdout, stderr}, args)
}
