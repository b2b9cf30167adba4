package main

import (
	"flag"
	"fmt"
	"text/tabwriter"

	"github.com/keybroker/keybroker/client"
	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
)

// poolsCommands are the subcommands of `keybroker pools`. A bare
// `keybroker pools [POOL...]` is `pools list`.
var poolsCommands = []command{
	{"pools list", "[POOL...]", "show every pool, or the named ones, with their key counts per state", setupPools},
	{"pools retire", "POOL", "retire an empty pool (--force: remove its keys first); it stops paging as empty", setupRetire},
}

func pools(env adminEnv, args []string) int {
	if len(args) > 0 {
		for _, c := range poolsCommands {
			if c.name == "pools "+args[0] {
				return runCommand(c, env, args[1:])
			}
		}
		if args[0] == "help" {
			return dispatch("pools", poolsCommands, env, []string{"help"})
		}
	}
	return runCommand(poolsCommands[0], env, args)
}

func setupPools(fs *flag.FlagSet) runFunc {
	output := outputFlag(fs)
	return func(env adminEnv, kb *client.Client, names []string) error {
		if err := checkOutput(*output); err != nil {
			return err
		}
		list, err := poolSummaries(env, kb, names)
		if err != nil {
			return err
		}
		if *output == "json" {
			return printJSON(env.stdout, list)
		}
		tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "POOL\tTOTAL\tACTIVE\tCOOLING_DOWN\tSUSPECT\tDISABLED\tQUARANTINED")
		for _, p := range list.GetPools() {
			c := p.GetCounts()
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\n", p.GetPool(), c.GetTotal(), c.GetActive(), c.GetCoolingDown(), c.GetSuspect(),
				c.GetDisabled(), c.GetQuarantined())
		}
		return tw.Flush()
	}
}

// poolSummaries returns the named pools with their counts, or every pool
// (ListPools) when none is named, in the one shape every pool is printed
// in: ListPoolsResponse.
func poolSummaries(env adminEnv, kb *client.Client, names []string) (*pb.ListPoolsResponse, error) {
	if len(names) == 0 {
		resp, err := kb.ListPools(env.ctx)
		if err != nil {
			return nil, fmt.Errorf("list pools: %w", err)
		}
		return resp, nil
	}
	out := &pb.ListPoolsResponse{}
	for _, name := range names {
		page, err := kb.GetAll(env.ctx, &pb.GetAllRequest{Pool: name, PageSize: 1})
		if err != nil {
			return nil, fmt.Errorf("pool %q: %w", name, err)
		}
		out.Pools = append(out.Pools, &pb.PoolSummary{Pool: name, Counts: page.GetCounts(), RemovalHold: page.GetRemovalHold()})
	}
	return out, nil
}

func setupRetire(fs *flag.FlagSet) runFunc {
	force := fs.Bool("force", false, "remove the pool's keys first (each is recorded in the audit trail)")
	return func(env adminEnv, kb *client.Client, args []string) error {
		if len(args) != 1 {
			return usagef("name exactly one pool to retire")
		}
		resp, err := kb.Stub().DeletePool(env.ctx, &pb.DeletePoolRequest{Pool: args[0], Force: *force})
		if err != nil {
			return fmt.Errorf("retire pool %q: %w", args[0], err)
		}
		_, err = fmt.Fprintf(env.stdout, "pool %s retired (%d keys removed)\n", args[0], resp.GetRemovedCount())
		return err
	}
}
