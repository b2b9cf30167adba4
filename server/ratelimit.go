package server

import (
	"context"
	"net"
	"sync"
	"time"

	"golang.org/x/time/rate"
	"google.golang.org/grpc/peer"

	"github.com/keybroker/keybroker/internal/auth"
)

// ReportRate bounds how fast failure reports are taken: per caller (a
// token's or certificate's name; the peer's address when authentication is
// off) and per key. Without it one client token could write to Redis as
// fast as it can send, and fill it.
type ReportRate struct {
	PerCaller      rate.Limit // reports per second
	CallerBurst    int
	PerKey         rate.Limit
	KeyBurst       int
	MaxTracked     int // callers or keys remembered at once, each
	IdleForgetting time.Duration
}

// DefaultReportRate is generous for real traffic (a caller reports what
// its own calls saw; a key is parked after its first reports) and small
// against a flood.
func DefaultReportRate() ReportRate {
	return ReportRate{PerCaller: 100, CallerBurst: 200, PerKey: 10, KeyBurst: 20, MaxTracked: 100_000, IdleForgetting: time.Minute}
}

// limiterSet is a bounded map of token buckets. Idle buckets (full again)
// are forgotten when the map is full; if none is, a new name is refused,
// so the map never grows past its bound.
type limiterSet struct {
	mu      sync.Mutex
	every   rate.Limit
	burst   int
	max     int
	idle    time.Duration
	buckets map[string]*bucket
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

func newLimiterSet(every rate.Limit, burst, max int, idle time.Duration) *limiterSet {
	return &limiterSet{every: every, burst: burst, max: max, idle: idle, buckets: map[string]*bucket{}}
}

// allow takes one token of name's bucket at now.
func (l *limiterSet) allow(name string, now time.Time) bool {
	if l == nil {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[name]
	if !ok {
		if len(l.buckets) >= l.max && !l.sweep(now) {
			return false
		}
		b = &bucket{lim: rate.NewLimiter(l.every, l.burst)}
		l.buckets[name] = b
	}
	b.seen = now
	return b.lim.AllowN(now, 1)
}

// sweep forgets buckets unused for the idle time and reports whether
// there is room now.
func (l *limiterSet) sweep(now time.Time) bool {
	for name, b := range l.buckets {
		if now.Sub(b.seen) >= l.idle {
			delete(l.buckets, name)
		}
	}
	return len(l.buckets) < l.max
}

func (l *limiterSet) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// reportLimits holds the two bucket sets of a service.
type reportLimits struct {
	callers, keys *limiterSet
}

func newReportLimits(r ReportRate) reportLimits {
	return reportLimits{
		callers: newLimiterSet(r.PerCaller, r.CallerBurst, r.MaxTracked, r.IdleForgetting),
		keys:    newLimiterSet(r.PerKey, r.KeyBurst, r.MaxTracked, r.IdleForgetting),
	}
}

// WithReportRate sets how fast failure reports are taken; the default is
// DefaultReportRate. A zero PerCaller or PerKey turns that bound off.
func WithReportRate(r ReportRate) Option {
	return func(s *Service) {
		s.reportLimits = newReportLimits(r)
		if r.PerCaller == 0 {
			s.reportLimits.callers = nil
		}
		if r.PerKey == 0 {
			s.reportLimits.keys = nil
		}
	}
}

// callerKey names the caller for rate limits and buffer shares: its
// principal, else (authentication off) the address it connects from.
func callerKey(ctx context.Context) string {
	if p, ok := auth.FromContext(ctx); ok {
		return "principal:" + p.Name
	}
	if pr, ok := peer.FromContext(ctx); ok && pr.Addr != nil {
		host, _, err := net.SplitHostPort(pr.Addr.String())
		if err != nil {
			host = pr.Addr.String() // a unix socket: every caller is local
		}
		return "peer:" + host
	}
	return "anonymous"
}
