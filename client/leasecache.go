package client

import (
	"sync"
	"sync/atomic"
	"time"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
)

// leased is one GetRandom grant as Transport uses it.
type leased struct {
	secret  string
	keyID   string
	leaseID string
	expire  time.Time
	// uses is how many calls the broker's budget granted the lease (0:
	// no budget, any number until expire); they end at usesExpire.
	uses       int
	usesExpire time.Time
}

// newLeased reads a grant; sent is when GetRandom was sent, from which the
// uses' validity counts: the broker answered later, so the budget's
// window ends no sooner than sent plus uses_valid_for, however slow the
// answer was.
func newLeased(r *pb.GetRandomResponse, sent time.Time) *leased {
	l := &leased{
		secret:  r.GetSecret(),
		keyID:   r.GetKeyId(),
		leaseID: r.GetLease().GetLeaseId(),
		expire:  r.GetLease().GetExpireTime().AsTime(),
		uses:    int(r.GetLease().GetUses()),
	}
	if l.uses > 0 && r.GetLease().GetUsesValidFor() != nil {
		l.usesExpire = sent.Add(r.GetLease().GetUsesValidFor().AsDuration())
	}
	return l
}

// leaseCache holds the one lease a Transport reuses, until it expires, has
// served maxUses requests (0: no limit), or fails. Its zero value reuses
// nothing.
type leaseCache struct {
	enabled bool
	maxUses int
	now     func() time.Time

	mu      sync.Mutex
	cur     *leased
	uses    int
	filling atomic.Bool // one request is leasing the key to reuse
}

// get returns the cached lease for one more request, or nil when there is
// none worth using.
func (c *leaseCache) get() *leased {
	if !c.enabled {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur == nil || !c.usable(c.cur) {
		c.cur = nil
		return nil
	}
	l := c.cur
	c.uses++
	if c.maxUses > 0 && c.uses >= c.maxUses || l.uses > 0 && c.uses >= l.uses {
		c.cur = nil
	}
	return l
}

// usable reports whether l may serve one more request now: neither it
// nor the budget window its uses were granted in has ended.
func (c *leaseCache) usable(l *leased) bool {
	now := c.now()
	return now.Before(l.expire) && (l.usesExpire.IsZero() || now.Before(l.usesExpire))
}

// defaultReuseUses is how many calls a Transport reusing leases without
// a limit asks a budgeted pool to cover per lease.
const defaultReuseUses = 32

// wantUses is how many calls to ask GetRandom to cover: 1 unless leases
// are reused.
func (c *leaseCache) wantUses() int32 {
	switch {
	case !c.enabled:
		return 1
	case c.maxUses > 0:
		return int32(min(c.maxUses, 1<<20))
	}
	return defaultReuseUses
}

// startFill reports whether the caller should lease the key to reuse
// (and put it, then endFill): only one request at a time does, so that
// requests arriving together on an empty cache do not each lease a key
// for many uses and waste all but one lease's budget. The others lease a
// key for their own call only.
func (c *leaseCache) startFill() bool {
	return c.enabled && c.filling.CompareAndSwap(false, true)
}

func (c *leaseCache) endFill() { c.filling.Store(false) }

// put caches a fresh lease that has just served one request.
func (c *leaseCache) put(l *leased) {
	if !c.enabled || c.maxUses == 1 || l.uses == 1 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cur, c.uses = l, 1
}

// drop forgets l at once if it is the cached lease: its key failed.
func (c *leaseCache) drop(l *leased) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur == l {
		c.cur = nil
	}
}
