package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
)

// profile starts a CPU profile of one window when Config.ProfileDir is
// set and the variant has a label, and snapshots the cumulative
// allocation profile before and after it; the returned func ends it.
func (b *bench) profile(label string, callers, round int) func() {
	if b.cfg.ProfileDir == "" || label == "" {
		return func() {}
	}
	name := filepath.Join(b.cfg.ProfileDir, fmt.Sprintf("%s-c%d-r%d", label, callers, round+1))
	writeAllocs(name + ".base.pprof")
	f, err := os.Create(name + ".cpu.pprof")
	if err != nil {
		b.say("cpu profile: %v", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.say("cpu profile: %v", err)
		f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
		writeAllocs(name + ".allocs.pprof")
	}
}

// writeAllocs writes the allocation profile so far to path.
func writeAllocs(path string) {
	runtime.GC() // the profile is as of the last GC
	f, err := os.Create(path)
	if err != nil {
		return
	}
	defer f.Close()
	_ = pprof.Lookup("allocs").WriteTo(f, 0)
}
