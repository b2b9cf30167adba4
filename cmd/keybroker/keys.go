package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/keybroker/keybroker/client"
	"github.com/keybroker/keybroker/internal/secret"
)

// keysCommands are the subcommands of `keybroker keys`.
var keysCommands = []command{
	{"keys add", "SECRET...", "add keys to a pool (prefer `keys import`: arguments end up in shell history)", setupAdd},
	{"keys remove", "KEY_ID... | -", "remove keys by key id (- reads ids from stdin)", setupRemove},
	{"keys list", "", "list a pool's keys: key id, masked secret, state, reason, until, last used", setupList},
	{"keys import", "[FILE | -]", "add keys from a file or stdin: one secret per line, or pool<TAB>secret", setupImport},
	{"keys export", "", "print a pool's secrets as pool<TAB>secret lines (needs --reveal)", setupExport},
	{"keys history", "POOL KEY_ID", "show a key's state changes, newest first: who moved it where, when and why", setupHistory},
}

func keys(env adminEnv, args []string) int {
	return dispatch("keys", append(keysCommands[:len(keysCommands):len(keysCommands)], restoreCommands...), env, args)
}

func setupAdd(fs *flag.FlagSet) runFunc {
	pool := fs.String("pool", "", "pool to add the keys to (required)")
	return func(env adminEnv, kb *client.Client, args []string) error {
		if err := requirePool(*pool); err != nil {
			return err
		}
		if len(args) == 0 {
			return usagef("no secrets given; to read them from a file or stdin use `keybroker keys import --pool %s FILE`", *pool)
		}
		resp, err := kb.Add(env.ctx, *pool, args)
		if err != nil {
			return fmt.Errorf("add to pool %q: %w", *pool, err)
		}
		tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KEY ID\tSECRET")
		for i, id := range resp.GetKeyIds() {
			fmt.Fprintf(tw, "%s\t%s\n", id, secret.Mask(strings.TrimSpace(args[i])))
		}
		tw.Flush()
		fmt.Fprintf(env.stdout, "pool %s: %d added, %d already present\n", *pool, resp.GetAddedCount(), resp.GetPresentCount())
		return nil
	}
}

func setupRemove(fs *flag.FlagSet) runFunc {
	pool := fs.String("pool", "", "pool to remove the keys from (required)")
	return func(env adminEnv, kb *client.Client, args []string) error {
		if err := requirePool(*pool); err != nil {
			return err
		}
		ids, err := keyIDArgs(args, env.stdin)
		if err != nil {
			return err
		}
		resp, err := kb.Remove(env.ctx, *pool, ids)
		if err != nil {
			return fmt.Errorf("remove from pool %q: %w", *pool, err)
		}
		fmt.Fprintf(env.stdout, "pool %s: %d removed", *pool, resp.GetRemovedCount())
		if len(resp.GetNotFoundKeyIds()) > 0 {
			fmt.Fprintf(env.stdout, ", not found: %s", strings.Join(resp.GetNotFoundKeyIds(), " "))
		}
		fmt.Fprintln(env.stdout)
		return nil
	}
}

// keyIDArgs returns the key ids named on the command line, or read from
// stdin (whitespace-separated) when the only argument is "-".
func keyIDArgs(args []string, stdin io.Reader) ([]string, error) {
	if len(args) == 1 && args[0] == "-" {
		var ids []string
		sc := bufio.NewScanner(stdin)
		sc.Split(bufio.ScanWords)
		for sc.Scan() {
			ids = append(ids, sc.Text())
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("read key ids from stdin: %w", err)
		}
		args = ids
	}
	if len(args) == 0 {
		return nil, usagef("no key ids given (see `keybroker keys list`)")
	}
	return args, nil
}
