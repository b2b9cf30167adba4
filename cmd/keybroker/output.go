package main

import (
	"flag"
	"fmt"
	"io"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// outputFlag declares -o, the output format of every listing command;
// checkOutput validates it after parsing, so a bad value is one line, not
// the whole usage.
func outputFlag(fs *flag.FlagSet) *string {
	return fs.String("o", "table", "output format: table or json (the RPC's response message as grpcurl prints it, every field present)")
}

func checkOutput(o string) error {
	if o != "table" && o != "json" {
		return usagef("-o %q: want table or json", o)
	}
	return nil
}

// printJSON prints a listing as its RPC's response message (all pages in
// one: ListPoolsResponse, GetAllResponse, GetKeyHistoryResponse…) in
// protojson, zero values included. Each kind of object therefore has one
// JSON shape wherever it is printed (a pool is always a PoolSummary, a key
// a Key), which scripts and grpcurl users can share.
func printJSON(w io.Writer, m proto.Message) error {
	b, err := protojson.MarshalOptions{Multiline: true, Indent: "  ", EmitUnpopulated: true}.Marshal(m)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(b))
	return err
}
