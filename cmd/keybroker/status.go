package main

import (
	"flag"
	"fmt"
	"text/tabwriter"

	"github.com/keybroker/keybroker/client"
	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
)

// statusCommand is `keybroker status`: one screen of the deployment.
var statusCommand = command{
	name:    "status",
	summary: "one screen of a running deployment: broker version, store, worker, pools and their counts",
	setup:   setupStatus,
}

func setupStatus(fs *flag.FlagSet) runFunc {
	output := outputFlag(fs)
	return func(env adminEnv, kb *client.Client, args []string) error {
		if err := checkOutput(*output); err != nil {
			return err
		}
		if len(args) > 0 {
			return usagef("unexpected arguments %q", args)
		}
		st, err := kb.Stub().GetStatus(env.ctx, &pb.GetStatusRequest{})
		if err != nil {
			return fmt.Errorf("status: %w", err)
		}
		if *output == "json" {
			return printJSON(env.stdout, st)
		}
		w := env.stdout
		fmt.Fprintf(w, "broker:  %s, up since %s\n", st.GetVersion(), timeOrDash(st.GetStartTime()))
		fmt.Fprintf(w, "cli:     %s\n", binaryVersion())
		store := "reachable"
		if !st.GetStoreReachable() {
			store = "UNREACHABLE: leases and changes fail until Redis answers"
		}
		fmt.Fprintf(w, "store:   %s\n", store)
		if wk := st.GetWorker(); wk != nil {
			fmt.Fprintf(w, "worker:  %s in the broker: %d checks applied, %d changes, %d faults, %d store errors\n",
				wk.GetName(), wk.GetChecked(), wk.GetChanged(), wk.GetFaults(), wk.GetErrors())
		} else {
			fmt.Fprintln(w, "worker:  not in this broker (serve --worker=false; run keybroker worker)")
		}
		fmt.Fprintf(w, "pools:   %d\n\n", len(st.GetPools()))
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "POOL\tTOTAL\tACTIVE\tCOOLING_DOWN\tSUSPECT\tDISABLED")
		for _, p := range st.GetPools() {
			c := p.GetCounts()
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\n", p.GetPool(), c.GetTotal(), c.GetActive(), c.GetCoolingDown(), c.GetSuspect(), c.GetDisabled())
		}
		return tw.Flush()
	}
}
