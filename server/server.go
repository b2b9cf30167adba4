// Package server implements keybroker.v1.KeyBrokerService over a store:
// request validation, classification of reported failures, leases, and the
// mapping of every outcome to a canonical gRPC status. Internal causes go
// to the log; clients get a code and a message that says what to do.
package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/keybroker/keybroker/failure"
	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/budget"
	"github.com/keybroker/keybroker/internal/config"
	"github.com/keybroker/keybroker/internal/lease"
	"github.com/keybroker/keybroker/internal/store"
)

// Selector chooses the key for a lease. The store picks from Redis; a view
// kept in memory can take its place without touching the service.
type Selector interface {
	Pick(ctx context.Context, pool string) (store.Picked, error)
}

// Refresher is implemented by selectors that hold keys in memory. The
// service asks it to re-read keys it has just changed (a report that
// parked a key, a removal), so that this replica's next GetRandom reflects
// the change even before the change notification reaches it.
type Refresher interface {
	Refresh(ctx context.Context, pool string, ids ...string)
}

// Forgetter is implemented by selectors that hold keys in memory. The
// service asks it to drop a key whose failure report it could only queue
// (the store out of reach), so the key is not leased again meanwhile.
type Forgetter interface {
	Forget(pool string, ids ...string)
}

// Holder is implemented by selectors that hold keys in memory: whether a
// pool's key is known and leasable now. During an outage it is how a
// report by key id is told from a made-up one before it is queued.
type Holder interface {
	Contains(pool, id string) bool
}

// Policies gives the effective policy of a pool. *config.Config is one.
type Policies interface {
	Pool(name string) config.Pool
}

// Observer is told what the service did, for metrics. Implementations must
// be safe for concurrent use and cheap: they run on the hot path.
type Observer interface {
	Leased(pool string)
	Reported(pool string, v failure.Verdict, tr store.Transition)
	Added(pool string, n int)
	Removed(pool string, n int)
	// ReportQueued is told of a report met with an unreachable store:
	// accepted into the buffer, or refused because it was full.
	ReportQueued(pool string, accepted bool)
}

// nopObserver is the default Observer.
type nopObserver struct{}

func (nopObserver) Leased(string)                                      {}
func (nopObserver) Reported(string, failure.Verdict, store.Transition) {}
func (nopObserver) Added(string, int)                                  {}
func (nopObserver) Removed(string, int)                                {}
func (nopObserver) ReportQueued(string, bool)                          {}

// Service is the KeyBrokerService implementation.
type Service struct {
	pb.UnimplementedKeyBrokerServiceServer

	keys     *store.Store
	selector Selector
	leases   *lease.Signer
	policies Policies
	log      *slog.Logger
	now      func() time.Time
	observe  Observer
	pending  *reportQueue // nil: reports fail with UNAVAILABLE during an outage
	contact  *StoreContact
	maxStale time.Duration
	budgets  *budget.Tracker // nil: no budgets
	status   StatusSource

	reportLimits reportLimits
}

// Option configures a Service.
type Option func(*Service)

// WithSelector serves GetRandom from sel instead of the store.
func WithSelector(sel Selector) Option { return func(s *Service) { s.selector = sel } }

// WithPolicies sets the pool policies; the default is config.Default().
func WithPolicies(p Policies) Option { return func(s *Service) { s.policies = p } }

// WithLogger sets the logger; the default discards.
func WithLogger(l *slog.Logger) Option { return func(s *Service) { s.log = l } }

// WithObserver reports leases, failure reports and changes to o.
func WithObserver(o Observer) Option { return func(s *Service) { s.observe = o } }

// WithReportBuffer sets how many failure reports are kept while the key
// store is unreachable (DefaultReportBuffer unless set); 0 turns the
// buffer off, so such reports fail with UNAVAILABLE.
func WithReportBuffer(n int) Option {
	return func(s *Service) {
		s.pending = nil
		if n > 0 {
			s.pending = newReportQueue(n)
		}
	}
}

// WithStaleness refuses leases of a pool (UNAVAILABLE) once the key store
// has not answered for that pool for longer than max, as contact tells: for
// a selector that keeps serving from memory while Redis is out of reach.
// Feed contact with store.AnswerHook so that it follows every real answer,
// not only health pings.
func WithStaleness(contact *StoreContact, max time.Duration) Option {
	return func(s *Service) { s.contact, s.maxStale = contact, max }
}

// WithClock replaces time.Now for lease expiry and cooldown ends.
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// New returns a Service over keys that signs leases with leases.
func New(keys *store.Store, leases *lease.Signer, opts ...Option) *Service {
	s := &Service{
		keys:     keys,
		selector: keys,
		leases:   leases,
		policies: config.Default(),
		log:      slog.New(slog.DiscardHandler),
		now:      time.Now,
		observe:  nopObserver{},
		pending:  newReportQueue(DefaultReportBuffer),
	}
	s.reportLimits = newReportLimits(DefaultReportRate())
	for _, o := range opts {
		o(s)
	}
	return s
}

// forget asks a caching selector to drop keys at once.
func (s *Service) forget(pool string, ids ...string) {
	if f, ok := s.selector.(Forgetter); ok && len(ids) > 0 {
		f.Forget(pool, ids...)
	}
}

// refresh asks a caching selector to re-read keys this replica changed.
func (s *Service) refresh(ctx context.Context, pool string, ids ...string) {
	if r, ok := s.selector.(Refresher); ok && len(ids) > 0 {
		r.Refresh(ctx, pool, ids...)
	}
}
