package view

// compactMin is the least garbage worth a compaction (a variable so tests
// can see compactions without megabytes of keys).
var compactMin = 1 << 20

// maybeCompact reclaims the arena bytes of removed keys once they are more
// than half of it. Callers hold wmu, so the copy is made without mu (no
// other writer can run, readers only read) and mu is held only to swap it
// in. Entries move to new offsets in a new arena; strings handed out
// earlier keep pointing into the old one, which is never written again.
func (p *pool) maybeCompact() {
	if p.dead < compactMin || p.dead < len(p.arena)/2 {
		return
	}
	live := len(p.arena) - p.dead
	arena := make([]byte, 0, live+live/8)
	ents := make([]entry, len(p.ents), cap(p.ents))
	for i, e := range p.ents {
		ents[i] = e
		ents[i].off = uint32(len(arena))
		arena = append(arena, p.arena[e.off:e.off+idLen+uint32(e.n)]...)
	}
	p.mu.Lock()
	p.arena, p.ents, p.dead = arena, ents, 0
	p.mu.Unlock()
}
