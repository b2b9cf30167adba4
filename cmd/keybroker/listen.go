package main

import (
	"fmt"
	"net"
	"strings"
)

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
