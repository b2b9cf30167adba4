package server

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	rpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
)

// TestReflectionServesComments asks the server, as grpcurl describe
// does, for the file that defines KeyBrokerService, and requires the
// comments of the proto in the answer: descriptors compiled by
// protoc-gen-go carry none, so this fails when reflection is served
// from them.
func TestReflectionServesComments(t *testing.T) {
	srv := NewGRPCServer(&Service{}, health.NewServer(), slog.New(slog.DiscardHandler), DefaultGRPCConfig())
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	stream, err := rpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fds := fileContaining(t, stream, "keybroker.v1.KeyBrokerService")
	var comments strings.Builder
	for _, fd := range fds {
		for _, loc := range fd.GetSourceCodeInfo().GetLocation() {
			comments.WriteString(loc.GetLeadingComments())
		}
	}
	for _, want := range []string{
		"rate limited keys cool down",                        // an RPC's comment
		"retry_after is how long the provider asked to wait", // a field's comment
	} {
		if !strings.Contains(comments.String(), want) {
			t.Errorf("reflection's descriptors lack the comment %q", want)
		}
	}

	// Services without a commented set are still described.
	if fds := fileContaining(t, stream, "grpc.health.v1.Health"); len(fds) == 0 {
		t.Error("reflection does not describe grpc.health.v1.Health")
	}
}

func fileContaining(t *testing.T, stream rpb.ServerReflection_ServerReflectionInfoClient, symbol string) []*descriptorpb.FileDescriptorProto {
	t.Helper()
	err := stream.Send(&rpb.ServerReflectionRequest{
		MessageRequest: &rpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: symbol},
	})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if e := resp.GetErrorResponse(); e != nil {
		t.Fatalf("reflection on %s: %s", symbol, e.GetErrorMessage())
	}
	var out []*descriptorpb.FileDescriptorProto
	for _, b := range resp.GetFileDescriptorResponse().GetFileDescriptorProto() {
		fd := new(descriptorpb.FileDescriptorProto)
		if err := proto.Unmarshal(b, fd); err != nil {
			t.Fatal(err)
		}
		out = append(out, fd)
	}
	return out
}
