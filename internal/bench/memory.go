package bench

import (
	"context"
	"runtime"
	"runtime/debug"
	"time"
)

// memoryResult is what loading the pools into a view cost.
type memoryResult struct {
	keys                 int           // keys the view loaded, every pool
	load                 time.Duration // from start to every pool loaded
	heapBefore           uint64        // live heap before the view, after a GC
	heapAfter            uint64        // live heap with every pool loaded, after a GC
	rssBefore            int64         // process RSS before the view
	rssLoaded            int64         // right after loading
	rssFreed             int64         // after returning free memory to the OS
	peakLoad, peakResync int64         // VmHWM during the load and a full resync (0: unknown)
	resync               time.Duration // one full resync of the large pool
}

// bytesPerKey is the live heap the view adds per key.
func (m memoryResult) bytesPerKey() float64 {
	return float64(int64(m.heapAfter)-int64(m.heapBefore)) / float64(m.keys)
}

// memory starts the memory-mode broker and measures what its view of
// every pool costs: load time, live heap per key, RSS, and the peak RSS
// during the load and during one full resync of the large pool.
func (b *bench) memory(ctx context.Context) error {
	runtime.GC()
	debug.FreeOSMemory()
	m := memoryResult{keys: b.cfg.Keys + smallKeys + propKeys, heapBefore: heapBytes(), rssBefore: procStatus("VmRSS")}
	peaks := resetPeakRSS()
	start := time.Now()
	var err error
	if b.a, err = startReplica(ctx, b.redis.Addr, true, b.log); err != nil {
		return err
	}
	if err := b.a.waitAllLoaded(ctx, b.cfg.Keys); err != nil {
		return err
	}
	m.load = time.Since(start)
	m.rssLoaded = procStatus("VmRSS")
	if peaks {
		m.peakLoad = procStatus("VmHWM")
	}
	runtime.GC()
	m.heapAfter = heapBytes()
	b.say("loaded %d keys in %s; measuring a full resync", m.keys, m.load.Round(time.Millisecond))
	peaks = resetPeakRSS()
	start = time.Now()
	if err := b.a.view.Resync(ctx, poolLarge); err != nil {
		return err
	}
	m.resync = time.Since(start)
	if peaks {
		m.peakResync = procStatus("VmHWM")
	}
	debug.FreeOSMemory()
	m.rssFreed = procStatus("VmRSS")
	b.res.memory = m
	return nil
}
