//go:build unix

package broker

import (
	"os"
	"sync"
	"syscall"
)

// umaskMu serialises umask changes; the umask is per process.
var umaskMu sync.Mutex

// withUmask runs f with the process umask set to mask, then restores it.
// Only start-up code calls it, before anything else creates files.
func withUmask(mask os.FileMode, f func() error) error {
	umaskMu.Lock()
	defer umaskMu.Unlock()
	old := syscall.Umask(int(mask))
	defer syscall.Umask(old)
	return f()
}
