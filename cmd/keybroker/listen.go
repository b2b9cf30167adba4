package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"
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
	return listenUnix(path, mode, nil)
}

// listenUnix creates the socket with its final permissions from the
// start: the umask is narrowed around bind, so there is no moment in
// which the socket is open to anyone (a chmod after listening left one,
// and a caller who connected in it stayed connected). afterBind, when set,
// runs right after bind (tests look at the socket there).
func listenUnix(path string, mode os.FileMode, afterBind func()) (net.Listener, error) {
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("remove stale socket %s: %w", path, err)
	}
	var l net.Listener
	err := withUmask(0o777&^mode.Perm(), func() error {
		var err error
		l, err = net.Listen("unix", path)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listen on unix:%s: %w", path, err)
	}
	if afterBind != nil {
		afterBind()
	}
	if err := os.Chmod(path, mode); err != nil { // the umask can only remove bits
		l.Close()
		return nil, fmt.Errorf("set permissions of %s: %w", path, err)
	}
	return l, nil
}

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
