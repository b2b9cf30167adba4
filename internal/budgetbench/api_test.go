package budgetbench

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/config"
	"github.com/keybroker/keybroker/internal/redistest"
)

// TestReportUsageOnlyForIssuedLeases: a caller with a valid client token
// who lies about keys it was never given (a forged or foreign lease id)
// changes nothing: the usage is skipped and not counted.
func TestReportUsageOnlyForIssuedLeases(t *testing.T) {
	e := newE2E(t)
	ctx := context.Background()
	resp, err := e.b.kb.Stub().ReportUsage(ctx, &pb.ReportUsageRequest{Pool: "learned", Usages: []*pb.Usage{
		{LeaseId: "forged", Requests: &pb.RateLimitWindow{Limit: proto.Int64(1), Remaining: proto.Int64(0)}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetAcceptedCount() != 0 {
		t.Errorf("a forged lease's usage was accepted (%d)", resp.GetAcceptedCount())
	}
	lease, err := e.b.kb.GetRandom(ctx, "declared")
	if err != nil {
		t.Fatal(err)
	}
	// A lease of another pool does not speak for this one.
	resp, err = e.b.kb.Stub().ReportUsage(ctx, &pb.ReportUsageRequest{Pool: "learned", Usages: []*pb.Usage{
		{LeaseId: lease.GetLease().GetLeaseId(), Requests: &pb.RateLimitWindow{Limit: proto.Int64(1)}},
	}})
	if err != nil || resp.GetAcceptedCount() != 0 {
		t.Errorf("another pool's lease: accepted %d, err %v; want 0, nil", resp.GetAcceptedCount(), err)
	}
	if _, err := e.b.kb.Stub().ReportUsage(ctx, &pb.ReportUsageRequest{Pool: "learned", Usages: make([]*pb.Usage, 1001)}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("1001 usages: %v, want INVALID_ARGUMENT", err)
	}
}

// TestAddGivesKeysTiers: Add's tiers name the pool policy's tiers, whose
// limits replace the pool's for those keys; an undeclared tier is refused.
func TestAddGivesKeysTiers(t *testing.T) {
	e := newE2E(t)
	ctx := context.Background()
	_, err := e.b.kb.Stub().Add(ctx, &pb.AddRequest{Pool: "declared", Secrets: []string{"sk-tier-test-0123456789abcdef"}, Tiers: []string{"nope"}})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("Add with an undeclared tier: %v, want INVALID_ARGUMENT", err)
	}
	add, err := e.b.kb.Stub().Add(ctx, &pb.AddRequest{Pool: "declared", Secrets: []string{"sk-tier-test-0123456789abcdef"}, Tiers: []string{"big"}})
	if err != nil {
		t.Fatal(err)
	}
	id := add.GetKeyIds()[0]
	if _, err := e.b.kb.GetRandom(ctx, "declared"); err != nil { // the pool is tracked from its first lease
		t.Fatal(err)
	}
	var got *pb.KeyBudget
	waitFor(t, "the tier's limits in GetAll", func() bool {
		for _, k := range e.keys(t, "declared") {
			if k.GetKeyId() == id {
				got = k.GetBudget()
			}
		}
		return got.GetSource() == "key"
	})
	if got.GetRequestsLimit() != 40 {
		t.Errorf("tiered key's budget = %v, want 40 calls per window from tier big", got)
	}
}

// A caller with a valid client token and a real lease floods ReportUsage
// (40,000 observations). What it costs Redis stays bounded by the pool's
// keys, not by the reports: the window counts (a hash per live window) and
// the learned limits (a field per key), nothing per report.
func TestUsageFloodDoesNotGrowRedis(t *testing.T) {
	rs := redistest.Start(t)
	win := config.Duration(2 * time.Second)
	pol := &config.Config{Pools: map[string]config.Pool{"flood": {Limits: config.Limits{Window: win}}}}
	b := startBroker(t, rs.Addr, pol, time.Now)
	ctx := context.Background()
	if _, err := b.kb.Add(ctx, "flood", keySecrets(3)); err != nil {
		t.Fatal(err)
	}
	lease, err := b.kb.GetRandom(ctx, "flood")
	if err != nil {
		t.Fatal(err)
	}
	keys := func() int {
		n, err := rs.Client().Eval(ctx, "return #redis.call('KEYS', ARGV[1])", nil, "kb:{flood}:*").Int()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := keys()
	usages := make([]*pb.Usage, 1000)
	for i := range usages {
		usages[i] = &pb.Usage{LeaseId: lease.GetLease().GetLeaseId(),
			Requests: &pb.RateLimitWindow{Limit: proto.Int64(int64(100 + i)), Remaining: proto.Int64(int64(i % 50))}}
	}
	for range 40 {
		if _, err := b.kb.Stub().ReportUsage(ctx, &pb.ReportUsageRequest{Pool: "flood", Usages: usages}); err != nil {
			t.Fatal(err)
		}
	}
	// At most the learned limits' hash and the windows the reports fell
	// in (two, across a boundary) are new.
	if after := keys(); after > before+3 {
		t.Errorf("Redis keys of the pool: %d before the flood, %d after; want at most 3 more", before, after)
	}
	lims, err := rs.Client().HLen(ctx, "kb:{flood}:bl").Result()
	if err != nil || lims > 3 {
		t.Errorf("learned limits: %d fields (%v); want at most one per key", lims, err)
	}
}
