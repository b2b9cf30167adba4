// Package redistest starts a real redis-server on a free loopback port for a
// test and stops it afterwards, so tests never touch a Redis they did not
// start (the user's own Redis on 6379 included). The process itself is
// managed by internal/redisproc, which `keybroker bench` shares.
package redistest

import (
	"syscall"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/keybroker/keybroker/internal/redisproc"
)

// Server is one redis-server process owned by a test.
type Server struct {
	// Addr is the server's host:port on 127.0.0.1.
	Addr string

	t    testing.TB
	proc *redisproc.Server
}

// Start runs a fresh redis-server with persistence off and registers its
// shutdown with t.Cleanup. It fails the test, saying how to install Redis,
// when redis-server is not on PATH (set KEYBROKER_REDIS_SERVER to use
// another binary).
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := redisproc.Binary()
	if err != nil {
		t.Fatal(err)
	}
	proc, err := redisproc.Start(bin, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proc.Stop)
	return &Server{Addr: proc.Addr, t: t, proc: proc}
}

// Client returns a go-redis client for the server, closed at cleanup.
func (s *Server) Client() *redis.Client {
	return Dial(s.t, s.Addr)
}

// Dial returns a raw client for the Redis at addr, closed at cleanup, for
// tests that read or write what the store keeps behind its back. Tests
// name its types through the aliases below, so that go-redis stays an
// import of internal/store (and of this helper) alone.
func Dial(t testing.TB, addr string) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// DialURL is Dial for a redis:// URL (with its password, database and
// address).
func DialURL(t testing.TB, url string) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("redistest: parse %q: %v", url, err)
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Client is a raw Redis client, as Dial, Server.Client and
// Deployment.Client return.
type Client = redis.UniversalClient

// Pipe is a transaction pipeline of a Client.
type Pipe = redis.Pipeliner

// Z is a sorted-set member, for Pipe.ZAdd.
type Z = redis.Z

// Stop kills the server. It is safe to call more than once.
func (s *Server) Stop() { s.proc.Stop() }

// Restart starts the server again on the same port after Stop, with an
// empty dataset, as a Redis that lost its memory would come back.
func (s *Server) Restart() {
	s.t.Helper()
	if err := s.proc.Restart(); err != nil {
		s.t.Fatal(err)
	}
}

// StartPersistent is Start with an append-only file synced on every write,
// so Restart brings the data back: a Redis that crashes and recovers,
// for soak tests.
func StartPersistent(t testing.TB) *Server {
	t.Helper()
	bin, err := redisproc.Binary()
	if err != nil {
		t.Fatal(err)
	}
	p, err := redisproc.StartWith(bin, t.TempDir(), "", []string{"--appendonly", "yes", "--appendfsync", "always"})
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Addr: p.Addr, t: t, proc: p}
	t.Cleanup(s.Stop)
	return s
}

// Freeze stops the server with SIGSTOP until Thaw (or cleanup): the
// process and its connections stay, but nothing answers, as a Redis stuck
// in a long fork, a swap storm or a paused VM would. Calls then hang until
// their own deadline, unlike a cut connection that fails at once.
func (s *Server) Freeze() {
	s.t.Helper()
	pid := s.proc.Pid()
	if pid == 0 {
		s.t.Fatal("Freeze: redis-server is not running")
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(s.Thaw)
}

// Thaw resumes a frozen server (SIGCONT).
func (s *Server) Thaw() {
	if pid := s.proc.Pid(); pid != 0 {
		_ = syscall.Kill(pid, syscall.SIGCONT)
	}
}
