package store

import (
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/redis/go-redis/v9"
)

// ErrUnavailable is the key store being out of reach or busy failing
// over: trying again shortly may succeed. IsUnavailable reports it (and
// any error wrapping it) along with the errors Redis and the network give
// for that condition, so callers need not know what those look like.
var ErrUnavailable = errors.New("key store unavailable")

// unavailablePrefixes are the Redis error replies that mean "not now"
// rather than "never": a replica still loading its dataset, a master
// down or failing over, a cluster slot moving, a script running too long.
var unavailablePrefixes = []string{"LOADING", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN", "READONLY", "BUSY"}

// IsUnavailable reports whether err means Redis is out of reach or busy
// failing over (retry later), as opposed to Redis rejecting what was sent
// or the data being wrong (retrying changes nothing).
func IsUnavailable(err error) bool {
	var nerr net.Error
	switch {
	case err == nil:
		return false
	case errors.Is(err, ErrUnavailable),
		errors.As(err, &nerr), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, redis.ErrPoolTimeout), errors.Is(err, redis.ErrClosed):
		return true
	}
	var rerr redis.Error
	if !errors.As(err, &rerr) {
		return false
	}
	msg := rerr.Error()
	for _, p := range unavailablePrefixes {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}
