package main

import (
	"flag"
	"fmt"
	"strings"

	"github.com/keybroker/keybroker/client"
)

// restoreCommands are the `keybroker keys` subcommands that take keys out
// of quarantine or lift a pool's removal hold.
var restoreCommands = []command{
	{"keys restore", "KEY_ID... | - | --all", "put keys back into rotation (quarantined, suspect, disabled...); the worker re-checks them at once", setupRestore},
	{"keys release", "", "lift a pool's removal hold: quarantine the keys the brake held back", setupRelease},
}

func setupRestore(fs *flag.FlagSet) runFunc {
	pool := fs.String("pool", "", "pool of the keys (required)")
	all := fs.Bool("all", false, "restore every quarantined key of the pool")
	return func(env adminEnv, kb *client.Client, args []string) error {
		if err := requirePool(*pool); err != nil {
			return err
		}
		var ids []string
		switch {
		case *all && len(args) > 0:
			return usagef("give key ids or --all, not both")
		case !*all:
			var err error
			if ids, err = keyIDArgs(args, env.stdin); err != nil {
				return err
			}
		}
		resp, err := kb.Restore(env.ctx, *pool, ids, *all)
		if err != nil {
			return fmt.Errorf("restore keys of pool %q: %w", *pool, err)
		}
		fmt.Fprintf(env.stdout, "pool %s: %d restored", *pool, resp.GetRestoredCount())
		if n := len(resp.GetUnchangedKeyIds()); n > 0 {
			fmt.Fprintf(env.stdout, ", %d already active", n)
		}
		if len(resp.GetNotFoundKeyIds()) > 0 {
			fmt.Fprintf(env.stdout, ", not found: %s", strings.Join(resp.GetNotFoundKeyIds(), " "))
		}
		fmt.Fprintln(env.stdout)
		for _, id := range resp.GetRestoredKeyIds() {
			fmt.Fprintln(env.stdout, "restored", id)
		}
		return nil
	}
}

func setupRelease(fs *flag.FlagSet) runFunc {
	pool := fs.String("pool", "", "pool whose removal hold to lift (required)")
	return func(env adminEnv, kb *client.Client, args []string) error {
		if err := requirePool(*pool); err != nil {
			return err
		}
		if len(args) > 0 {
			return usagef("keys release takes no arguments")
		}
		resp, err := kb.ReleaseRemovals(env.ctx, *pool)
		if err != nil {
			return fmt.Errorf("release removals of pool %q: %w", *pool, err)
		}
		fmt.Fprintf(env.stdout, "pool %s: hold lifted, %d keys quarantined\n", *pool, resp.GetQuarantinedCount())
		for _, id := range resp.GetQuarantinedKeyIds() {
			fmt.Fprintln(env.stdout, "quarantined", id)
		}
		return nil
	}
}
