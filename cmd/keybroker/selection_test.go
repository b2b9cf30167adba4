package main

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/redistest"
	"github.com/keybroker/keybroker/internal/testkit"
)

// Brokers sharing a Redis follow each other: keys parked on one stop being
// leased by another that serves from memory, whose leases reach Redis; a
// broker in per-call Redis mode serves the same pool.
func TestServeReplicasFollowEachOther(t *testing.T) {
	rs := redistest.Start(t)
	common := []string{"--redis", rs.Addr, "--usage-flush-interval", "50ms"}
	a := startBroker(t, common...)
	b := startBroker(t, common...)
	c := startBroker(t, append(common, "--selection-source", "redis")...)
	ctx := ctxT(t)
	add, err := a.client.Add(ctx, &pb.AddRequest{Pool: "p", Secrets: []string{"sk-replica-key-AAAAAAAAAAAA", "sk-replica-key-BBBBBBBBBBBB"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, br := range []*brokerProc{b, c} {
		if _, err := br.client.GetRandom(ctx, &pb.GetRandomRequest{Pool: "p"}); err != nil {
			t.Fatalf("GetRandom: %v", err)
		}
	}
	for range 20 {
		if _, err := b.client.GetRandom(ctx, &pb.GetRandomRequest{Pool: "p"}); err != nil {
			t.Fatal(err)
		}
	}
	waitLeases(t, a, "p", 22)

	for _, id := range add.GetKeyIds() {
		if _, err := a.client.ReportFailure(ctx, &pb.ReportFailureRequest{Pool: "p", Key: &pb.ReportFailureRequest_KeyId{KeyId: id}, HttpStatus: 429}); err != nil {
			t.Fatal(err)
		}
	}
	testkit.EventuallyWhy(t, 10*time.Second, 10*time.Millisecond, "replica b stops leasing the parked keys", func() (bool, string) {
		_, err := b.client.GetRandom(ctx, &pb.GetRandomRequest{Pool: "p"})
		return status.Code(err) == codes.Unavailable, fmt.Sprintf("GetRandom = %v", err)
	})
}

// waitLeases waits until the pool's lease counts in Redis add up to want.
func waitLeases(t *testing.T, br *brokerProc, pool string, want int64) {
	t.Helper()
	testkit.EventuallyWhy(t, 10*time.Second, 50*time.Millisecond, fmt.Sprintf("the lease counts of %s add up to %d", pool, want), func() (bool, string) {
		all, err := br.client.GetAll(ctxT(t), &pb.GetAllRequest{Pool: pool})
		if err != nil {
			t.Fatal(err)
		}
		got := int64(0)
		for _, k := range all.GetKeys() {
			got += k.GetLeaseCount()
		}
		return got == want, fmt.Sprintf("they add up to %d", got)
	})
}
