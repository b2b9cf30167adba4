package broker

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// With umask 000, a socket created by bind is open to every user until
// the chmod after it; another user who connected in that moment stayed
// connected. The socket must have its final mode the moment it exists.
func TestUnixSocketHasItsModeFromTheStart(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	path := filepath.Join(t.TempDir(), "kb.sock")
	var atBind os.FileMode
	l, err := listenUnix(path, 0o600, func() {
		fi, err := os.Stat(path)
		if err != nil {
			t.Error(err)
			return
		}
		atBind = fi.Mode().Perm()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if atBind != 0o600 {
		t.Fatalf("the socket was %#o between bind and chmod, want 0600 from the start", atBind)
	}
	if now := syscall.Umask(0); now != 0 {
		t.Fatalf("the process umask was left at %#o", now)
	}
}
