package view

import (
	"encoding/hex"
	"math"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/keybroker/keybroker/internal/config"
	"github.com/keybroker/keybroker/internal/secret"
	"github.com/keybroker/keybroker/internal/store"
)

// idLen is the length of a key id in the arena: its hex form, so that a
// pick hands it out without formatting it.
const idLen = secret.IDLen

// keyID is a key id's 8 bytes, the index's key: a map without pointers is
// never scanned by the garbage collector.
type keyID [idLen / 2]byte

// parseID decodes a key id; ok is false for anything else.
func parseID(id string) (k keyID, ok bool) {
	if len(id) != idLen {
		return k, false
	}
	_, err := hex.Decode(k[:], []byte(id))
	return k, err == nil
}

// entry is one selectable key. Its record in the arena is the hex key id
// followed by the secret. No pointers: a million entries cost the garbage
// collector nothing.
type entry struct {
	off    uint32 // record start in the arena
	weight uint32 // weighted selection; at least 1
	n      uint16 // secret length (secrets are at most secret.MaxLen)
	mark   uint16 // resync generation that last saw the key
}

// counter is what picks count about one key, updated under the read lock.
type counter struct {
	leases   atomic.Uint32 // since the last flush
	window   atomic.Uint32 // least_used: leases in the current window
	lastUsed atomic.Int64  // unix ms of the latest lease
}

// pool is the view of one pool.
//
// Locking: picks and flush scans hold mu for reading. Every change holds
// wmu (which serialises writers: the notification follower, resync pages
// and sweeps, Refresh, compaction) and then mu for writing only while it
// mutates, so a writer may read the structure without mu and build
// replacements off-lock. Lock order: smu, wmu, mu, umu.
type pool struct {
	name     string
	strategy config.Selection
	ready    atomic.Bool   // loaded once: picks may use the view
	next     atomic.Uint64 // round_robin position

	smu sync.Mutex // one resync at a time
	wmu sync.Mutex
	mu  sync.RWMutex

	ents  []entry
	ctrs  []counter // parallel to ents
	index map[keyID]int32
	arena []byte
	dead  int     // arena bytes of removed keys, reclaimed by compaction
	tree  fenwick // weighted only: the entries' weights by position

	// Resync bookkeeping, under wmu.
	gen     uint16
	syncing bool
	touched map[keyID]struct{} // set from newer reads (or dropped) during a resync

	umu        sync.Mutex
	retired    []store.Usage      // counts of keys that left the view, not flushed yet
	unsaved    []store.UsageBatch // batches a failed flush could not write, retried first and as they were
	queueMu    sync.Mutex
	queue      []string      // key ids named by notifications, not applied yet
	queued     chan struct{} // signals the follower; capacity 1
	syncWanted chan struct{} // signals the resyncer; capacity 1
}

func newPool(name string, strategy config.Selection) *pool {
	return &pool{
		name:       name,
		strategy:   strategy,
		index:      map[keyID]int32{},
		queued:     make(chan struct{}, 1),
		syncWanted: make(chan struct{}, 1),
	}
}

// pick chooses a key by the pool's strategy and counts the lease; ok is
// false when the pool holds no key.
func (p *pool) pick(v *View) (store.Picked, bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	n := uint64(len(p.ents))
	if n == 0 {
		return store.Picked{}, false
	}
	var i uint64
	switch p.strategy {
	case config.RoundRobin:
		i = (p.next.Add(1) - 1) % n
	case config.Weighted:
		i = uint64(p.tree.find(int64(v.randN(uint64(p.tree.total)))))
	case config.LeastUsed:
		i = p.lessUsed(v.randN(n), v.randN(n))
	default:
		i = v.randN(n)
	}
	c := &p.ctrs[i]
	c.leases.Add(1)
	c.lastUsed.Store(v.now().UnixMilli())
	return p.picked(int(i)), true
}

// lessUsed returns whichever of positions a and b had fewer leases in the
// window and counts one more for it: the power of two choices, O(1) and
// within a few leases of perfectly even.
func (p *pool) lessUsed(a, b uint64) uint64 {
	if p.ctrs[b].window.Load() < p.ctrs[a].window.Load() {
		a = b
	}
	p.ctrs[a].window.Add(1)
	return a
}

// picked returns the key at position i. The strings point into the arena
// instead of copying: arena bytes are never written twice (keys are only
// appended, and compaction builds a new arena), so they stay valid and
// unchanged for as long as anyone holds them.
func (p *pool) picked(i int) store.Picked {
	e := p.ents[i]
	rec := p.arena[e.off : e.off+idLen+uint32(e.n)]
	return store.Picked{
		KeyID:  unsafe.String(unsafe.SliceData(rec), idLen),
		Secret: unsafe.String(unsafe.SliceData(rec[idLen:]), int(e.n)),
	}
}

// idAt returns the key id of position i, as a copy.
func (p *pool) idAt(i int) string {
	off := p.ents[i].off
	return string(p.arena[off : off+idLen])
}

// keyAt returns the index key of position i.
func (p *pool) keyAt(i int) keyID {
	off := p.ents[i].off
	k, _ := parseID(unsafe.String(unsafe.SliceData(p.arena[off:]), idLen))
	return k
}

func (p *pool) contains(id string) bool {
	k, ok := parseID(id)
	if !ok {
		return false
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	_, ok = p.index[k]
	return ok
}

func (p *pool) len() int {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return len(p.ents)
}

// apply brings one key in line with what Redis says it is: an active key
// is inserted or updated, anything else removed. It reports whether an
// active key was not inserted because its secret was not given (the
// caller fetches it). Callers hold wmu and mu.
func (p *pool) apply(c store.Current) (needSecret bool) {
	k, ok := parseID(c.ID)
	if !ok {
		return false
	}
	i, present := p.index[k]
	switch {
	case c.State != store.Active || c.Err != nil:
		if present {
			p.removeAt(int(i))
		}
	case present:
		p.ents[i].mark = p.gen
		p.reweigh(int(i), c.Weight)
	case c.Secret == "" || len(c.Secret) > math.MaxUint16:
		return c.Secret == ""
	default:
		p.insert(k, c)
	}
	return false
}

// insert appends a key. Callers hold wmu and mu.
func (p *pool) insert(k keyID, c store.Current) {
	if uint64(len(p.arena))+uint64(idLen+len(c.Secret)) > math.MaxUint32 {
		return // 4 GiB of secrets in one pool: left to the store's Pick
	}
	w := max(c.Weight, 1)
	p.ents = append(p.ents, entry{off: uint32(len(p.arena)), weight: w, n: uint16(len(c.Secret)), mark: p.gen})
	p.arena = append(append(p.arena, c.ID...), c.Secret...)
	p.ctrs = append(p.ctrs, counter{})
	p.index[k] = int32(len(p.ents) - 1)
	if p.strategy == config.Weighted {
		p.tree.push(int64(w))
	}
}

// reweigh sets the weight of position i. Callers hold wmu and mu.
func (p *pool) reweigh(i int, w uint32) {
	w = max(w, 1)
	if old := p.ents[i].weight; old != w {
		p.ents[i].weight = w
		if p.strategy == config.Weighted {
			p.tree.add(i, int64(w)-int64(old))
		}
	}
}

// removeAt drops position i by moving the last key into it, keeping its
// unflushed counts for the next flush. Callers hold wmu and mu.
func (p *pool) removeAt(i int) {
	last := len(p.ents) - 1
	gone := p.ents[i]
	p.retire(i)
	delete(p.index, p.keyAt(i))
	p.dead += idLen + int(gone.n)
	if i != last {
		moved := p.ents[last]
		p.ents[i] = moved
		p.ctrs[i].leases.Store(p.ctrs[last].leases.Load())
		p.ctrs[i].window.Store(p.ctrs[last].window.Load())
		p.ctrs[i].lastUsed.Store(p.ctrs[last].lastUsed.Load())
		p.index[p.keyAt(i)] = int32(i)
		if p.strategy == config.Weighted {
			p.tree.add(i, int64(moved.weight)-int64(gone.weight))
		}
	}
	if p.strategy == config.Weighted {
		p.tree.pop(int64(p.ents[last].weight))
	}
	p.ents = p.ents[:last]
	p.ctrs = p.ctrs[:last]
}

// retire keeps the unflushed lease count of position i for the next flush.
func (p *pool) retire(i int) {
	c := &p.ctrs[i]
	n := c.leases.Swap(0)
	if n == 0 {
		return
	}
	u := store.Usage{ID: p.idAt(i), Leases: int64(n), LastUsed: unixMilli(c.lastUsed.Load())}
	p.umu.Lock()
	p.retired = append(p.retired, u)
	p.umu.Unlock()
}

// forget removes keys at once, and keeps a running resync from bringing
// them back from a page read before the change. Refresh falls back on it
// when Redis cannot be read.
func (p *pool) forget(ids []string) {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, id := range ids {
		k, ok := parseID(id)
		if !ok {
			continue
		}
		if i, ok := p.index[k]; ok {
			p.removeAt(int(i))
		}
		p.touch(k)
	}
}

// touch records that k's state was set from something newer than a
// running resync's pages. Callers hold wmu.
func (p *pool) touch(k keyID) {
	if p.syncing {
		p.touched[k] = struct{}{}
	}
}
