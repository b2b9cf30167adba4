package client

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/keybroker/keybroker/failure"
	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
)

// Usage reporting: Transport reads the rate-limit headers of every
// provider answer, successes included, and a background goroutine sends
// them to the broker in batches (ReportUsage), so that the broker can
// lease keys by the budget they have left. A request never waits for it:
// an observation that finds the queue full is dropped and counted.
const (
	usageQueue    = 4096                   // observations waiting to be sent
	usageBatch    = 500                    // observations per ReportUsage
	usageFlush    = 100 * time.Millisecond // longest an observation waits for company
	usageIdle     = 5 * time.Second        // the sender stops after this long without work
	usageDeadline = 5 * time.Second        // bound on one ReportUsage
)

// rateLimitWindow converts a window failure.ReadRateLimits read; nil when
// the answer did not state it.
func rateLimitWindow(w failure.Window) *pb.RateLimitWindow {
	if !w.Stated() {
		return nil
	}
	out := &pb.RateLimitWindow{}
	if w.HasLimit {
		out.Limit = &w.Limit
	}
	if w.HasRemaining {
		out.Remaining = &w.Remaining
	}
	if w.Reset > 0 {
		out.ResetAfter = durationpb.New(w.Reset)
	}
	return out
}

// usageOf reads what an answer's headers say about the key's windows; nil
// when they say nothing.
func usageOf(h http.Header, key *leased, now time.Time) *pb.Usage {
	rl := failure.ReadRateLimits(h, now)
	if !rl.Requests.Stated() && !rl.Tokens.Stated() {
		return nil
	}
	return &pb.Usage{LeaseId: key.leaseID, Requests: rateLimitWindow(rl.Requests), Tokens: rateLimitWindow(rl.Tokens)}
}

// observed is one usage waiting to be sent, with when its answer came;
// its age is filled in when the batch leaves.
type observed struct {
	u  *pb.Usage
	at time.Time
}

// usageReporter batches observations of one pool and sends them in the
// background. Its zero value (with kb and pool set) is ready.
type usageReporter struct {
	kb   *Client
	pool string

	once    sync.Once
	ch      chan observed
	running atomic.Bool
	dropped atomic.Int64
	sent    atomic.Int64
	failed  atomic.Int64
}

// add queues u without ever blocking; a full queue drops it.
func (r *usageReporter) add(u *pb.Usage, at time.Time) {
	r.once.Do(func() { r.ch = make(chan observed, usageQueue) })
	select {
	case r.ch <- observed{u, at}:
	default:
		r.dropped.Add(1)
		return
	}
	if r.running.CompareAndSwap(false, true) {
		go r.loop()
	}
}

// loop sends batches until it has been idle for usageIdle.
func (r *usageReporter) loop() {
	for {
		batch := r.collect()
		if len(batch) == 0 {
			r.running.Store(false)
			// An observation queued after collect gave up, before the
			// flag dropped, would otherwise wait for the next one.
			if len(r.ch) > 0 && r.running.CompareAndSwap(false, true) {
				continue
			}
			return
		}
		r.send(batch)
	}
}

// collect waits for a first observation (up to usageIdle), then gathers
// more for up to usageFlush or until a batch is full.
func (r *usageReporter) collect() []observed {
	idle := time.NewTimer(usageIdle)
	defer idle.Stop()
	var first observed
	select {
	case first = <-r.ch:
	case <-idle.C:
		return nil
	}
	batch := []observed{first}
	flush := time.NewTimer(usageFlush)
	defer flush.Stop()
	for len(batch) < usageBatch {
		select {
		case u := <-r.ch:
			batch = append(batch, u)
		case <-flush.C:
			return batch
		}
	}
	return batch
}

func (r *usageReporter) send(batch []observed) {
	now := time.Now()
	usages := make([]*pb.Usage, len(batch))
	for i, o := range batch {
		o.u.Age = durationpb.New(max(now.Sub(o.at), 0))
		usages[i] = o.u
	}
	ctx, cancel := context.WithTimeout(context.Background(), usageDeadline)
	defer cancel()
	if _, err := r.kb.stub.ReportUsage(ctx, &pb.ReportUsageRequest{Pool: r.pool, Usages: usages}); err != nil {
		r.failed.Add(int64(len(batch)))
		return
	}
	r.sent.Add(int64(len(batch)))
}

// UsageStats is what a Transport's usage reporting did, in observations:
// sent to the broker, dropped because the queue was full (the broker
// unreachable or slow), and in batches the broker did not take (Failed:
// refused, or not answered within 5s).
type UsageStats struct {
	Sent, Dropped, Failed int64
}

// UsageStats says how usage reporting went so far.
func (t *Transport) UsageStats() UsageStats {
	return UsageStats{Sent: t.usage.sent.Load(), Dropped: t.usage.dropped.Load(), Failed: t.usage.failed.Load()}
}

// WithoutUsageReports turns off reading rate-limit headers and sending
// them to the broker (ReportUsage). The broker then budgets the pool only
// by the limits its policy declares.
func WithoutUsageReports() TransportOption {
	return func(t *Transport) { t.noUsage = true }
}

// tokensKey carries a call's estimated token cost in its context.
type tokensKey struct{}

// WithEstimatedTokens says what a request made with ctx will cost in
// provider tokens; Transport passes it to GetRandom, which reserves it
// from the key's token budget (GetRandomRequest.estimated_tokens).
func WithEstimatedTokens(ctx context.Context, tokens int64) context.Context {
	return context.WithValue(ctx, tokensKey{}, tokens)
}

func estimatedTokens(ctx context.Context) int64 {
	n, _ := ctx.Value(tokensKey{}).(int64)
	return max(n, 0)
}
