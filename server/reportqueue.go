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
	owners   map[string]int    // queued reports per caller
	held     map[reportKey]int // queued reports per key and kind
	keys     map[[2]string]int // queued reports per pool and key id
	wake     chan struct{}
}

// reportKey is what makes two queued reports the same: one key, one kind.
type reportKey struct {
	pool, id string
	kind     failure.Kind
}

// minOwnerShare is the smallest share of the buffer one caller may fill.
const minOwnerShare = 1000

func newReportQueue(limit int) *reportQueue {
	return &reportQueue{limit: limit, perOwner: max(limit/10, min(limit, minOwnerShare)), owners: map[string]int{},
		wake: make(chan struct{}, 1), held: map[reportKey]int{}, keys: map[[2]string]int{}}
}

func (r queuedReport) key() reportKey { return reportKey{r.pool, r.id, r.failure.Kind} }

// push adds r and reports whether there was room, in the buffer and in its
// caller's share. A report of the same key and kind as one already waiting
// is not stored again (it would say nothing more when applied), so a
// caller repeating itself during an outage cannot fill the buffer: dup
// says so.
func (q *reportQueue) push(r queuedReport) (ok, dup bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.held[r.key()] > 0 {
		return true, true
	}
	if len(q.items) >= q.limit || q.owners[r.caller] >= q.perOwner {
		return false, false
	}
	q.items = append(q.items, r)
	q.owners[r.caller]++
	q.held[r.key()]++
	q.keys[[2]string{r.pool, r.id}]++
	return true, false
}

// knows reports whether a report about key id of pool is waiting: the
// view dropped such a key when the report was queued, yet it is known.
func (q *reportQueue) knows(pool, id string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.keys[[2]string{pool, id}] > 0
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
	r := q.items[0]
	decrement(q.owners, r.caller)
	decrement(q.held, r.key())
	decrement(q.keys, [2]string{r.pool, r.id})
	q.items[0] = queuedReport{}
	q.items = q.items[1:]
}

func decrement[K comparable](m map[K]int, k K) {
	if m[k] <= 1 {
		delete(m, k)
	} else {
		m[k]--
	}
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

// FlushReports makes a last attempt, bounded by ctx, to apply the queued
// failure reports (at shutdown, once no call can add one), and returns how
// many are lost: the buffer lives in memory only. A lost report costs a
// key one more failed call after the restart, whose caller reports it
// again; see docs/reliability.md for why it is not written to disk.
func (s *Service) FlushReports(ctx context.Context) int {
	if s.pending == nil || s.pending.len() == 0 {
		return 0
	}
	before := s.pending.len()
	s.applyQueued(ctx, false)
	n := s.pending.len()
	if n > 0 {
		pools := map[string]int{}
		s.pending.mu.Lock()
		for _, r := range s.pending.items {
			pools[r.pool]++
		}
		s.pending.mu.Unlock()
		s.log.Warn("stopping with failure reports the key store never received; they are lost", "reports", n,
			"applied_at_shutdown", before-n, "by_pool", pools)
	}
	return n
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
			return // FlushReports makes the last attempt
		case <-t.C:
		}
		s.drainReports(ctx)
	}
}

func (s *Service) drainReports(ctx context.Context) { s.applyQueued(ctx, true) }

// applyQueued applies queued reports oldest first until one meets an
// outage; refresh re-reads each applied key into the view (not at
// shutdown, where the view is gone and the time bounded).
func (s *Service) applyQueued(ctx context.Context, refresh bool) {
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
		if refresh {
			s.refresh(ctx, r.pool, r.id) // the view dropped the key when the report was queued
		}
		s.observe.Reported(r.pool, failure.Verdict{Kind: r.failure.Kind, Reason: r.failure.Reason}, tr)
	}
	if applied > 0 {
		s.log.Info("queued failure reports applied", "reports", applied, "still_queued", s.pending.len())
	}
}

// queue keeps a report the store could not take, and answers the caller:
// accepted (queued) or, with the buffer full, UNAVAILABLE. Only a report
// about a key known to be in the pool is queued (one by lease, which this
// deployment signed, or one the in-memory view holds; see holds): a made-up key id
// or pool, which the store would have refused, must not take buffer room
// while the store cannot say so. An accepted report that parks the key
// drops it from the view at once, so it is not leased for the rest of the
// outage.
func (s *Service) queue(ctx context.Context, r queuedReport, v failure.Verdict, byLease bool, cause error) (*pb.ReportFailureResponse, error) {
	if !byLease && !s.holds(r.pool, r.id) {
		s.observe.ReportQueued(r.pool, false)
		s.log.WarnContext(ctx, "key store unreachable and the reported key is not one this broker knows; report refused",
			"pool", r.pool, "key_id", r.id, "kind", v.Kind.String())
		return nil, s.storeFailure(ctx, "ReportFailure", r.pool, cause)
	}
	ok, dup := false, false
	if s.pending != nil {
		ok, dup = s.pending.push(r)
	}
	if !ok {
		s.observe.ReportQueued(r.pool, false)
		if s.pending != nil {
			s.log.ErrorContext(ctx, "key store unreachable and the report buffer is full; report refused",
				"pool", r.pool, "key_id", r.id, "kind", v.Kind.String(), "buffer", s.pending.limit)
		}
		return nil, s.storeFailure(ctx, "ReportFailure", r.pool, cause)
	}
	s.observe.ReportQueued(r.pool, true)
	if parks(v.Kind) {
		s.forget(r.pool, r.id)
	}
	s.log.WarnContext(ctx, "key store unreachable; failure report queued", "pool", r.pool, "key_id", r.id,
		"kind", v.Kind.String(), "queued", s.pending.len(), "same_as_queued", dup, "err", cause)
	return &pb.ReportFailureResponse{
		KeyId:      r.id,
		Kind:       kindToProto(v.Kind),
		StateUntil: timestamp(r.failure.Until),
		Queued:     true,
	}, nil
}

// holds reports whether key id of pool may be queued: the in-memory
// view holds it, or a report about it is already queued. A selector that keeps nothing in memory cannot tell, so
// (as before) every report is taken; the dedupe in push still stops one
// caller repeating itself from filling the buffer.
func (s *Service) holds(pool, id string) bool {
	h, ok := s.selector.(Holder)
	return !ok || h.Contains(pool, id) || s.pending != nil && s.pending.knows(pool, id)
}

// parks reports whether a failure of kind takes a key out of selection.
func parks(k failure.Kind) bool {
	switch k {
	case failure.InvalidKey, failure.QuotaExhausted, failure.RateLimited, failure.PermissionDenied:
		return true
	}
	return false
}
