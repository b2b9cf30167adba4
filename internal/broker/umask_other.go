//go:build !unix

package broker

import "os"

// withUmask runs f: there is no umask here, and the socket's permissions
// are set right after it is created.
func withUmask(_ os.FileMode, f func() error) error { return f() }
