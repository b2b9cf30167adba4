package bench

import (
	"os"
	"runtime/metrics"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// sample is the server side's cumulative cost at one instant: this
// process's CPU time and heap allocations, and redis-server's CPU time.
type sample struct {
	cpu      time.Duration
	allocs   uint64
	redisCPU time.Duration // 0 where /proc is not available
}

// cost is what happened between two samples.
type cost struct {
	cpu      time.Duration
	allocs   uint64
	redisCPU time.Duration
}

func (c *cost) add(o cost) {
	c.cpu += o.cpu
	c.allocs += o.allocs
	c.redisCPU += o.redisCPU
}

var allocMetrics = []metrics.Sample{
	{Name: "/gc/heap/allocs:objects"},
	{Name: "/gc/heap/tiny/allocs:objects"},
}

// takeSample reads the counters; redisPid 0 skips redis-server.
func takeSample(redisPid int) sample {
	var s sample
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	ms := append([]metrics.Sample(nil), allocMetrics...)
	metrics.Read(ms)
	for _, m := range ms {
		if m.Value.Kind() == metrics.KindUint64 {
			s.allocs += m.Value.Uint64()
		}
	}
	if redisPid > 0 {
		s.redisCPU = processCPU(redisPid)
	}
	return s
}

func (s sample) since(before sample) cost {
	return cost{cpu: s.cpu - before.cpu, allocs: s.allocs - before.allocs, redisCPU: s.redisCPU - before.redisCPU}
}

// clockTick is the unit of /proc/<pid>/stat times (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// processCPU reads another process's user+system time from /proc; 0 when
// it cannot.
func processCPU(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses: utime and
	// stime are the 12th and 13th of them.
	rest := string(b)
	if i := strings.LastIndexByte(rest, ')'); i >= 0 {
		rest = rest[i+1:]
	}
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+st) * clockTick
}

// procStatus reads a kB field (VmRSS, VmHWM) of this process's
// /proc/self/status in bytes; 0 when it cannot.
func procStatus(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// resetPeakRSS restarts VmHWM from the current RSS, where Linux allows it.
func resetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// heapBytes is the memory held by live and not yet swept heap objects.
func heapBytes() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}
