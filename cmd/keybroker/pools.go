package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"text/tabwriter"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/keybroker/keybroker/client"
	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
)

// poolsCommand shows pools with their key counts per state. The API has no
// call that lists pools, so the pools are named on the command line.
var poolsCommand = command{
	name:     "pools",
	synopsis: "POOL...",
	summary:  "show the named pools with their key counts per state (the API cannot list pools yet)",
	setup:    setupPools,
}

func pools(env adminEnv, args []string) int {
	return runCommand(poolsCommand, env, args)
}

func setupPools(fs *flag.FlagSet) runFunc {
	output := fs.String("o", "table", "output format: table or json")
	return func(env adminEnv, kb *client.Client, names []string) error {
		if len(names) == 0 {
			return usagef("name the pools to show, e.g. `keybroker pools openai-main anthropic-main` (the broker's API has no call that lists pools)")
		}
		if *output != "table" && *output != "json" {
			return usagef("-o %q: want table or json", *output)
		}
		counts := make([]*pb.PoolCounts, len(names))
		for i, name := range names {
			page, err := kb.GetAll(env.ctx, &pb.GetAllRequest{Pool: name, PageSize: 1})
			if err != nil {
				return fmt.Errorf("pool %q: %w", name, err)
			}
			counts[i] = page.GetCounts()
		}
		if *output == "json" {
			return printPoolsJSON(env, names, counts)
		}
		tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "POOL\tTOTAL\tACTIVE\tCOOLING_DOWN\tSUSPECT\tDISABLED")
		for i, c := range counts {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\n", names[i], c.GetTotal(), c.GetActive(), c.GetCoolingDown(), c.GetSuspect(), c.GetDisabled())
		}
		return tw.Flush()
	}
}

// printPoolsJSON prints [{"pool": name, "counts": PoolCounts}, …] with
// the counts as grpcurl prints them (int64 as strings), zeros included.
func printPoolsJSON(env adminEnv, names []string, counts []*pb.PoolCounts) error {
	type poolJSON struct {
		Pool   string          `json:"pool"`
		Counts json.RawMessage `json:"counts"`
	}
	out := make([]poolJSON, len(names))
	for i, name := range names {
		c, err := protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(counts[i])
		if err != nil {
			return err
		}
		out[i] = poolJSON{Pool: name, Counts: c}
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(env.stdout, string(b))
	return err
}
