package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/keybroker/keybroker/client"
	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
)

// listFlags select the keys of list and export.
type listFlags struct {
	pool  string
	state string
}

func (l *listFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&l.pool, "pool", "", "pool to read (required)")
	fs.StringVar(&l.state, "state", "", "only keys in this state: active, cooling_down, suspect, disabled, quarantined")
}

// request builds the first GetAll request, checking the flags.
func (l *listFlags) request(reveal bool) (*pb.GetAllRequest, error) {
	if err := requirePool(l.pool); err != nil {
		return nil, err
	}
	state, err := parseState(l.state)
	if err != nil {
		return nil, err
	}
	return &pb.GetAllRequest{Pool: l.pool, PageSize: 1000, State: state, Reveal: reveal}, nil
}

func setupList(fs *flag.FlagSet) runFunc {
	var sel listFlags
	sel.register(fs)
	output := outputFlag(fs)
	return func(env adminEnv, kb *client.Client, args []string) error {
		if err := checkOutput(*output); err != nil {
			return err
		}
		req, err := sel.request(false)
		if err != nil {
			return err
		}
		if len(args) > 0 {
			return usagef("unexpected arguments %q", args)
		}
		all, err := collect(env, kb, req)
		if err != nil {
			return err
		}
		if *output == "json" {
			return printJSON(env.stdout, all)
		}
		return printKeyTable(env.stdout, all)
	}
}

func setupExport(fs *flag.FlagSet) runFunc {
	var sel listFlags
	sel.register(fs)
	reveal := fs.Bool("reveal", false, "confirm that the secrets are to be printed in the clear")
	return func(env adminEnv, kb *client.Client, args []string) error {
		if !*reveal {
			return usagef("export prints secrets in the clear; pass --reveal to confirm")
		}
		req, err := sel.request(true)
		if err != nil {
			return err
		}
		all, err := collect(env, kb, req)
		if err != nil {
			return err
		}
		for _, k := range all.GetKeys() {
			if _, err := fmt.Fprintf(env.stdout, "%s\t%s\n", sel.pool, k.GetSecret()); err != nil {
				return err
			}
		}
		return nil
	}
}

// collect pages through GetAll; the counts are those of the last page.
func collect(env adminEnv, kb *client.Client, req *pb.GetAllRequest) (*pb.GetAllResponse, error) {
	all := &pb.GetAllResponse{}
	for page, err := range kb.Pages(env.ctx, req) {
		if err != nil {
			return nil, fmt.Errorf("list pool %q: %w", req.GetPool(), err)
		}
		all.Keys = append(all.Keys, page.GetKeys()...)
		all.Counts = page.GetCounts()
	}
	return all, nil
}

func printKeyTable(w io.Writer, all *pb.GetAllResponse) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY ID\tSECRET\tSTATE\tREASON\tUNTIL\tLAST USED")
	for _, k := range all.GetKeys() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.GetKeyId(), k.GetMaskedSecret(), stateName(k.GetState()),
			orDash(k.GetReason()), timeOrDash(k.GetStateUntil()), timeOrDash(k.GetLastUsedTime()))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%d keys; pool: %s\n", len(all.GetKeys()), countsLine(all.GetCounts()))
	return err
}

func countsLine(c *pb.PoolCounts) string {
	return fmt.Sprintf("%d total, %d active, %d cooling_down, %d suspect, %d disabled",
		c.GetTotal(), c.GetActive(), c.GetCoolingDown(), c.GetSuspect(), c.GetDisabled())
}

// stateName is a KeyState as operators write it: "cooling_down".
func stateName(s pb.KeyState) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "KEY_STATE_"))
}

// parseState reads a state filter: "", "cooling_down", "cooling-down" or
// "KEY_STATE_COOLING_DOWN".
func parseState(s string) (pb.KeyState, error) {
	if s == "" {
		return pb.KeyState_KEY_STATE_UNSPECIFIED, nil
	}
	name := strings.ToUpper(strings.ReplaceAll(s, "-", "_"))
	if !strings.HasPrefix(name, "KEY_STATE_") {
		name = "KEY_STATE_" + name
	}
	v, ok := pb.KeyState_value[name]
	if !ok || v == 0 {
		return 0, usagef("--state %q: want active, cooling_down, suspect, disabled or quarantined", s)
	}
	return pb.KeyState(v), nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func timeOrDash(ts *timestamppb.Timestamp) string {
	if ts == nil || ts.AsTime().IsZero() || ts.AsTime().Unix() == 0 {
		return "-"
	}
	return ts.AsTime().UTC().Format(time.RFC3339)
}
