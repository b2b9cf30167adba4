package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
)

// Requests past the message size limit are refused by gRPC itself with
// RESOURCE_EXHAUSTED before any handler runs, and the broker keeps serving.
func TestOversizedRequestIsRefused(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	huge := make([]string, 3000)
	for i := range huge {
		huge[i] = strings.Repeat("k", 4000) // 12 MB in all, over the 8 MiB limit
	}
	_, err := h.client.Add(ctx, &pb.AddRequest{Pool: "big", Secrets: huge})
	if code := status.Code(err); code != codes.ResourceExhausted {
		t.Fatalf("12 MB Add = %v, want RESOURCE_EXHAUSTED", err)
	}
	if _, err := h.client.Add(ctx, &pb.AddRequest{Pool: "big", Secrets: []string{"sk-after-the-big-one-1"}}); err != nil {
		t.Fatalf("broker unusable after an oversized request: %v", err)
	}
	all, err := h.client.GetAll(ctx, &pb.GetAllRequest{Pool: "big", PageSize: 1 << 30})
	if err != nil || len(all.GetKeys()) != 1 {
		t.Fatalf("GetAll with a huge page size = %v, %v", all, err)
	}
}
