package client

import (
	"sync"
	"time"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
)

// leased is one GetRandom grant as Transport uses it.
type leased struct {
	secret  string
	keyID   string
	leaseID string
	expire  time.Time
}

func newLeased(r *pb.GetRandomResponse) *leased {
	return &leased{
		secret:  r.GetSecret(),
		keyID:   r.GetKeyId(),
		leaseID: r.GetLease().GetLeaseId(),
		expire:  r.GetLease().GetExpireTime().AsTime(),
	}
}

// leaseCache holds the one lease a Transport reuses, until it expires, has
// served maxUses requests (0: no limit), or fails. Its zero value reuses
// nothing.
type leaseCache struct {
	enabled bool
	maxUses int
	now     func() time.Time

	mu   sync.Mutex
	cur  *leased
	uses int
}

// get returns the cached lease for one more request, or nil when there is
// none worth using.
func (c *leaseCache) get() *leased {
	if !c.enabled {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur == nil || !c.now().Before(c.cur.expire) {
		c.cur = nil
		return nil
	}
	l := c.cur
	c.uses++
	if c.maxUses > 0 && c.uses >= c.maxUses {
		c.cur = nil
	}
	return l
}

// put caches a fresh lease that has just served one request.
func (c *leaseCache) put(l *leased) {
	if !c.enabled || c.maxUses == 1 {
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
