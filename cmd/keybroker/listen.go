package main

import (
	"fmt"
	"net"
	"os"
	"strings"
)

// listen opens the gRPC listener: TCP for host:port, a unix socket for
// unix:/path or unix:///path with permissions mode (a stale socket file is
// replaced).
func listen(addr string, mode os.FileMode) (net.Listener, error) {
	path, ok := strings.CutPrefix(addr, "unix:")
	if !ok {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("listen on %s: %w", addr, err)
		}
		return l, nil
	}
	path = strings.TrimPrefix(path, "//")
	if path == "" {
		return nil, fmt.Errorf("listen on %q: no socket path", addr)
	}
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("remove stale socket %s: %w", path, err)
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	if err := os.Chmod(path, mode); err != nil {
		l.Close()
		return nil, fmt.Errorf("set permissions of %s: %w", path, err)
	}
	return l, nil
}

// checkExposure refuses to serve an unauthenticated broker beyond this
// machine: whoever reaches it could lease, reveal and remove every key.
func checkExposure(addr string, authOn, insecure bool) error {
	if authOn || insecure || strings.HasPrefix(addr, "unix:") {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--listen %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("refusing to listen on %s without authentication: anyone who reaches it could lease, reveal and remove keys. "+
		"Configure --auth-file or $KEYBROKER_ADMIN_TOKEN/$KEYBROKER_CLIENT_TOKEN, listen on 127.0.0.1 or a unix: socket, "+
		"or pass --insecure to accept the risk", addr)
}
