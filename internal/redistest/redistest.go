// Package redistest starts a real redis-server on a free loopback port for a
// test and stops it afterwards, so tests never touch a Redis they did not
// start (the user's own Redis on 6379 included).
package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Server is one redis-server process owned by a test.
type Server struct {
	// Addr is the server's host:port on 127.0.0.1.
	Addr string

	t      testing.TB
	bin    string
	dir    string
	cmd    *exec.Cmd
	exited chan error // receives cmd.Wait's result once
}

// Start runs a fresh redis-server with persistence off and registers its
// shutdown with t.Cleanup. It fails the test, saying how to install Redis,
// when redis-server is not on PATH (set KEYBROKER_REDIS_SERVER to use
// another binary).
func Start(t testing.TB) *Server {
	t.Helper()
	bin := os.Getenv("KEYBROKER_REDIS_SERVER")
	if bin == "" {
		bin = "redis-server"
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		t.Fatalf("redis-server not found (%v): install it with `apt-get install redis-server` or run scripts/test.sh, which does", err)
	}
	s := &Server{t: t, bin: path, dir: t.TempDir()}
	var lastErr error
	for range 5 { // a free port can be taken between probing and binding
		port, err := freePort()
		if err != nil {
			t.Fatalf("find a free port: %v", err)
		}
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if lastErr = s.start(); lastErr == nil {
			t.Cleanup(s.Stop)
			return s
		}
	}
	t.Fatalf("start redis-server: %v", lastErr)
	return nil
}

// Client returns a go-redis client for the server, closed at cleanup.
func (s *Server) Client() *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	s.t.Cleanup(func() { _ = c.Close() })
	return c
}

// Stop kills the server. It is safe to call more than once.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// Restart starts the server again on the same port after Stop, with an
// empty dataset, as a Redis that lost its memory would come back.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	var err error
	for range 50 { // the old socket may linger briefly
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("restart redis-server on %s: %v", s.Addr, err)
}

func (s *Server) start() error {
	host, port, _ := net.SplitHostPort(s.Addr)
	cmd := exec.Command(s.bin,
		"--bind", host, "--port", port,
		"--save", "", "--appendonly", "no",
		"--dir", s.dir, "--protected-mode", "yes",
		"--loglevel", "warning",
	)
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	c := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("redis-server on %s exited: %v", s.Addr, err)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			s.cmd, s.exited = cmd, exited
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	<-exited
	return fmt.Errorf("redis-server on %s did not answer PING within 10s", s.Addr)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
