package server

import (
	"context"
	"sync"
	"time"

	"github.com/keybroker/keybroker/failure"
	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/store"
)

// DefaultReportBuffer is how many failure reports a broker keeps while its
// key store is unreachable.
const DefaultReportBuffer = 10_000

// queuedReport is a classified report waiting for the store: the verdict
// and the cooldown end were fixed when it arrived, so applying it late
// does not lengthen anything.
type queuedReport struct {
	pool, id string
	failure  store.Failure
	actor    string // the authenticated caller, "" when none
	caller   string // callerKey: whose share of the buffer it uses
}

// reportQueue keeps reports in arrival order, up to a bound, so none is
// lost to a Redis outage shorter than the buffer; past the bound a report
// is refused (and counted) rather than silently dropped. One caller may
// fill at most its share (a tenth of the buffer, at least minOwnerShare),
// so junk reports from one token cannot push out everyone else's during an
// outage.
type reportQueue struct {
	mu       sync.Mutex
	items    []queuedReport
	limit    int
	perOwner int
	owners   map[string]int // queued reports per caller
	wake     chan struct{}
}

// minOwnerShare is the smallest share of the buffer one caller may fill.
const minOwnerShare = 1000

func newReportQueue(limit int) *reportQueue {
	return &reportQueue{limit: limit, perOwner: max(limit/10, min(limit, minOwnerShare)), owners: map[string]int{}, wake: make(chan struct{}, 1)}
}

// push adds r and reports whether there was room, in the buffer and in
// its caller's share.
func (q *reportQueue) push(r queuedReport) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) >= q.limit || q.owners[r.caller] >= q.perOwner {
		return false
	}
	q.items = append(q.items, r)
	q.owners[r.caller]++
	return true
}

func (q *reportQueue) head() (queuedReport, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) == 0 {
		return queuedReport{}, false
	}
	return q.items[0], true
}

func (q *reportQueue) pop() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.owners[q.items[0].caller]--; q.owners[q.items[0].caller] <= 0 {
		delete(q.owners, q.items[0].caller)
	}
	q.items[0] = queuedReport{}
	q.items = q.items[1:]
}

func (q *reportQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

// PendingReports is how many failure reports wait for the key store.
func (s *Service) PendingReports() int {
	if s.pending == nil {
		return 0
	}
	return s.pending.len()
}

// ReplayReports applies queued failure reports, oldest first, whenever the
// key store answers again, checking every interval until ctx ends. A report
// the store refuses for good (the key was removed meanwhile) is logged and
// dropped; one that meets an outage again waits for the next round.
func (s *Service) ReplayReports(ctx context.Context, interval time.Duration) {
	if s.pending == nil {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if n := s.pending.len(); n > 0 {
				s.log.Warn("stopping with failure reports the key store never received", "reports", n)
			}
			return
		case <-t.C:
		}
		s.drainReports(ctx)
	}
}

func (s *Service) drainReports(ctx context.Context) {
	applied := 0
	for {
		r, ok := s.pending.head()
		if !ok {
			break
		}
		tr, err := s.keys.As(r.actor).Report(ctx, r.pool, r.id, r.failure)
		if err != nil && store.IsUnavailable(err) {
			break // still out of reach
		}
		s.pending.pop()
		if err != nil {
			s.log.Warn("queued failure report not applied", "pool", r.pool, "key_id", r.id, "err", err)
			continue
		}
		applied++
		s.observe.Reported(r.pool, failure.Verdict{Kind: r.failure.Kind, Reason: r.failure.Reason}, tr)
	}
	if applied > 0 {
		s.log.Info("queued failure reports applied", "reports", applied, "still_queued", s.pending.len())
	}
}

// queue keeps a report the store could not take, and answers the caller:
// accepted (queued) or, with the buffer full, UNAVAILABLE.
func (s *Service) queue(ctx context.Context, r queuedReport, v failure.Verdict, cause error) (*pb.ReportFailureResponse, error) {
	if s.pending == nil || !s.pending.push(r) {
		s.observe.ReportQueued(r.pool, false)
		if s.pending != nil {
			s.log.ErrorContext(ctx, "key store unreachable and the report buffer is full; report refused",
				"pool", r.pool, "key_id", r.id, "kind", v.Kind.String(), "buffer", s.pending.limit)
		}
		return nil, s.storeFailure(ctx, "ReportFailure", r.pool, cause)
	}
	s.observe.ReportQueued(r.pool, true)
	s.log.WarnContext(ctx, "key store unreachable; failure report queued", "pool", r.pool, "key_id", r.id,
		"kind", v.Kind.String(), "queued", s.pending.len(), "err", cause)
	return &pb.ReportFailureResponse{
		KeyId:      r.id,
		Kind:       kindToProto(v.Kind),
		StateUntil: timestamp(r.failure.Until),
		Queued:     true,
	}, nil
}
