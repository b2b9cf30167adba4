package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"
)

// checkExposure refuses to serve an unauthenticated broker beyond this
// machine: whoever reaches it could lease, reveal and remove every key.
func checkExposure(addr string, authOn, insecure bool) error {
	return checkExposureWith(addr, authOn, insecure, net.DefaultResolver.LookupIPAddr)
}

// lookupFunc resolves a host name (net.Resolver.LookupIPAddr).
type lookupFunc func(ctx context.Context, host string) ([]net.IPAddr, error)

func checkExposureWith(addr string, authOn, insecure bool, lookup lookupFunc) error {
	if authOn || insecure {
		return nil
	}
	local, err := localListen(addr, lookup)
	if err != nil {
		return fmt.Errorf("--listen %q: %w", addr, err)
	}
	if local {
		return nil
	}
	return fmt.Errorf("refusing to listen on %s without authentication: anyone who reaches it could lease, reveal and remove keys. "+
		"Configure --auth-file or $KEYBROKER_ADMIN_TOKEN/$KEYBROKER_CLIENT_TOKEN, listen on 127.0.0.1 or a unix: socket, "+
		"or pass --insecure to accept the risk", addr)
}

// localListen reports whether a --listen address stays on this machine: a
// unix socket, or a host whose every address is loopback. A name is
// resolved, not trusted: /etc/hosts may map "localhost" elsewhere, and
// net.Listen would then bind there. An empty host (":50051") is every
// interface.
func localListen(addr string, lookup lookupFunc) (bool, error) {
	if strings.HasPrefix(addr, "unix:") {
		return true, nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false, err
	}
	if host == "" {
		return false, nil
	}
	if ip := net.ParseIP(host); ip != nil {
		return ip.IsLoopback(), nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	addrs, err := lookup(ctx, host)
	if err != nil {
		return false, fmt.Errorf("resolve %q: %w", host, err)
	}
	for _, a := range addrs {
		if !a.IP.IsLoopback() {
			return false, nil
		}
	}
	return len(addrs) > 0, nil
}

// warnPlaintextTokens says loudly that bearer tokens cross the network in
// the clear: authentication is on, TLS is off, and the listener is not
// local.
func warnPlaintextTokens(log *slog.Logger, addr string, authOn, tlsOn bool) {
	if !authOn || tlsOn {
		return
	}
	if local, err := localListen(addr, net.DefaultResolver.LookupIPAddr); err == nil && local {
		return
	}
	log.Warn("authentication is on but TLS is off on a network address: bearer tokens (and leased secrets) cross the network in the clear; "+
		"set --tls-cert and --tls-key, or listen on loopback or a unix: socket", "listen", addr)
}
