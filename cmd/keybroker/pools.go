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

// poolsCommand shows pools with their key counts per state: every pool
// (ListPools), or the ones named on the command line.
var poolsCommand = command{
	name:     "pools",
	synopsis: "[POOL...]",
	summary:  "show every pool, or the named ones, with their key counts per state",
	setup:    setupPools,
}

func pools(env adminEnv, args []string) int {
	return runCommand(poolsCommand, env, args)
}

func setupPools(fs *flag.FlagSet) runFunc {
	output := fs.String("o", "table", "output format: table or json")
	return func(env adminEnv, kb *client.Client, names []string) error {
		if *output != "table" && *output != "json" {
			return usagef("-o %q: want table or json", *output)
		}
		names, counts, err := poolCounts(env, kb, names)
		if err != nil {
			return err
		}
		if *output == "json" {
			return printPoolsJSON(env, names, counts)
		}
		tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "POOL\tTOTAL\tACTIVE\tCOOLING_DOWN\tSUSPECT\tDISABLED\tQUARANTINED")
		for i, c := range counts {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\n", names[i], c.GetTotal(), c.GetActive(), c.GetCoolingDown(), c.GetSuspect(),
				c.GetDisabled(), c.GetQuarantined())
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

// poolCounts returns the named pools' counts, or every pool's when none is
// named.
func poolCounts(env adminEnv, kb *client.Client, names []string) ([]string, []*pb.PoolCounts, error) {
	if len(names) == 0 {
		resp, err := kb.ListPools(env.ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("list pools: %w", err)
		}
		for _, p := range resp.GetPools() {
			names = append(names, p.GetPool())
		}
		counts := make([]*pb.PoolCounts, len(resp.GetPools()))
		for i, p := range resp.GetPools() {
			counts[i] = p.GetCounts()
		}
		return names, counts, nil
	}
	counts := make([]*pb.PoolCounts, len(names))
	for i, name := range names {
		page, err := kb.GetAll(env.ctx, &pb.GetAllRequest{Pool: name, PageSize: 1})
		if err != nil {
			return nil, nil, fmt.Errorf("pool %q: %w", name, err)
		}
		counts[i] = page.GetCounts()
	}
	return names, counts, nil
}
