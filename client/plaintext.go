package client

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"google.golang.org/grpc/credentials"
)

// checkTokenTransport refuses to send a bearer token in the clear beyond
// this machine: over plaintext, a token is only sent to a unix socket or
// an address that is (or whose name resolves only to) loopback, unless
// WithInsecure says otherwise.
func checkTokenTransport(target string, s settings) error {
	if s.token == "" || s.insecure || !plaintext(s.creds) {
		return nil
	}
	if local, err := localTarget(target); err != nil || !local {
		why := "it is not on loopback"
		if err != nil {
			why = err.Error()
		}
		return fmt.Errorf("keybroker client for %q: refusing to send a bearer token over plaintext (%s): "+
			"use WithTransportCredentials (TLS), or WithInsecure() to accept that anyone on the path can read it", target, why)
	}
	return nil
}

func plaintext(c credentials.TransportCredentials) bool {
	return c == nil || c.Info().SecurityProtocol == "insecure"
}

// localTarget reports whether a gRPC target is a unix socket or a host
// whose every address is loopback.
func localTarget(target string) (bool, error) {
	if strings.HasPrefix(target, "unix:") || strings.HasPrefix(target, "unix-abstract:") {
		return true, nil
	}
	for _, scheme := range []string{"dns:///", "passthrough:///"} {
		target = strings.TrimPrefix(target, scheme)
	}
	host, _, err := net.SplitHostPort(target)
	if err != nil {
		host = target
	}
	return loopbackHost(host)
}

// loopbackHost resolves host (an IP stands for itself) and reports whether
// every address is loopback; a name that does not resolve is not.
func loopbackHost(host string) (bool, error) {
	if ip := net.ParseIP(strings.Trim(host, "[]")); ip != nil {
		return ip.IsLoopback(), nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil || len(addrs) == 0 {
		return false, fmt.Errorf("cannot resolve %q to check it is loopback", host)
	}
	for _, a := range addrs {
		if !a.IP.IsLoopback() {
			return false, nil
		}
	}
	return true, nil
}
