package main

import (
	"flag"
	"fmt"
	"text/tabwriter"

	"github.com/keybroker/keybroker/client"
	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
)

func setupHistory(fs *flag.FlagSet) runFunc {
	pool := fs.String("pool", "", "the key's pool (or give it as the first argument)")
	limit := fs.Int("limit", 50, "show at most this many events, newest first")
	output := outputFlag(fs)
	return func(env adminEnv, kb *client.Client, args []string) error {
		if err := checkOutput(*output); err != nil {
			return err
		}
		if *pool == "" && len(args) == 2 {
			*pool, args = args[0], args[1:]
		}
		if *pool == "" || len(args) != 1 {
			return usagef("want POOL KEY_ID (a removed key's id works too)")
		}
		if *limit < 1 {
			return usagef("--limit %d: want at least 1", *limit)
		}
		all, err := history(env, kb, &pb.GetKeyHistoryRequest{Pool: *pool, KeyId: args[0], PageSize: int32(min(*limit, 1000))}, *limit)
		if err != nil {
			return err
		}
		if *output == "json" {
			return printJSON(env.stdout, all)
		}
		tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TIME\tFROM\tTO\tREASON\tACTOR\tUNTIL")
		for _, e := range all.GetEvents() {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", timeOrDash(e.GetTime()), fromState(e.GetPreviousState()), stateName(e.GetState()),
				orDash(e.GetReason()), orDash(e.GetActor()), timeOrDash(e.GetStateUntil()))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		_, err = fmt.Fprintf(env.stdout, "%d events of key %s in pool %s\n", len(all.GetEvents()), args[0], *pool)
		return err
	}
}

// history pages through GetKeyHistory until limit events are read.
func history(env adminEnv, kb *client.Client, req *pb.GetKeyHistoryRequest, limit int) (*pb.GetKeyHistoryResponse, error) {
	all := &pb.GetKeyHistoryResponse{}
	for {
		page, err := kb.Stub().GetKeyHistory(env.ctx, req)
		if err != nil {
			return nil, fmt.Errorf("history of key %s in pool %q: %w", req.GetKeyId(), req.GetPool(), err)
		}
		all.Events = append(all.Events, page.GetEvents()...)
		if len(all.GetEvents()) >= limit || page.GetNextPageToken() == "" {
			all.Events = all.GetEvents()[:min(len(all.GetEvents()), limit)]
			return all, nil
		}
		req.PageToken = page.GetNextPageToken()
	}
}

// fromState is the state a key left; "-" when it was added.
func fromState(s pb.KeyState) string {
	if s == pb.KeyState_KEY_STATE_UNSPECIFIED {
		return "-"
	}
	return stateName(s)
}
