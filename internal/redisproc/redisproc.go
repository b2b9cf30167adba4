// Package redisproc runs a private redis-server process on a free loopback
// port: persistence off, its own scratch directory, killed on Stop. Tests
// (through internal/redistest) and `keybroker bench` use it, so neither
// ever touches a Redis it did not start.
package redisproc

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// BinaryEnv names the environment variable that points at another
// redis-server binary than the one on PATH.
const BinaryEnv = "KEYBROKER_REDIS_SERVER"

// Server is one redis-server process.
type Server struct {
	// Addr is the server's host:port on 127.0.0.1.
	Addr string

	bin    string
	dir    string
	conf   string   // a config file given first (Sentinel needs one)
	extra  []string // more command-line settings
	cmd    *exec.Cmd
	exited chan error // receives cmd.Wait's result once
}

// Binary finds redis-server: $KEYBROKER_REDIS_SERVER, else PATH. The
// error says how to install it.
func Binary() (string, error) {
	bin := os.Getenv(BinaryEnv)
	if bin == "" {
		bin = "redis-server"
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		return "", fmt.Errorf("redis-server not found (%w): install it with `apt-get install redis-server` or run scripts/test.sh, which does", err)
	}
	return path, nil
}

// Start runs redis-server from bin on a free loopback port with its
// working files in dir (which the caller owns and removes) and waits until
// it answers PING.
func Start(bin, dir string) (*Server, error) {
	return StartWith(bin, dir, "", nil)
}

// StartWith is Start with a config file (read first, "" for none) and
// extra command-line settings such as "--cluster-enabled", "yes" or
// "--sentinel", for the Cluster and Sentinel topologies tests build.
func StartWith(bin, dir, conf string, extra []string) (*Server, error) {
	s := &Server{bin: bin, dir: dir, conf: conf, extra: extra}
	var lastErr error
	for range 5 { // a free port can be taken between probing and binding
		port, err := freePort()
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if lastErr = s.start(); lastErr == nil {
			return s, nil
		}
	}
	return nil, fmt.Errorf("start redis-server: %w", lastErr)
}

// Pid is the process id of the running server, 0 when stopped; the bench
// reads the server's CPU time through it.
func (s *Server) Pid() int {
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Stop kills the server. It is safe to call more than once.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exited //nolint:errcheck // drains "signal: killed", the exit we asked for (`_ =` trips S1005)
	s.cmd = nil
}

// Restart starts the server again on the same port after Stop, with an
// empty dataset, as a Redis that lost its memory would come back.
func (s *Server) Restart() error {
	s.Stop()
	var err error
	for range 50 { // the old socket may linger briefly
		if err = s.start(); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("restart redis-server on %s: %w", s.Addr, err)
}

func (s *Server) start() error {
	host, port, _ := net.SplitHostPort(s.Addr)
	var args []string
	if s.conf != "" {
		args = append(args, s.conf)
	}
	args = append(args,
		"--bind", host, "--port", port,
		"--save", "", "--appendonly", "no",
		"--dir", s.dir, "--protected-mode", "yes",
		"--loglevel", "warning",
	)
	cmd := exec.Command(s.bin, append(args, s.extra...)...)
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	if err := waitReady(s.Addr, exited); err != nil {
		_ = cmd.Process.Kill()
		<-exited //nolint:errcheck // drains the Wait result; the readiness error is the one to report
		return err
	}
	s.cmd, s.exited = cmd, exited
	return nil
}

// errExited is returned when redis-server dies before answering.
var errExited = errors.New("redis-server exited")

// waitReady polls PING until the server answers, exits, or 10 s pass.
func waitReady(addr string, exited chan error) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			exited <- err // Stop and start read it again
			return fmt.Errorf("%w on %s: %w", errExited, addr, err)
		default:
		}
		if ping(addr) == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("redis-server on %s did not answer PING within 10s", addr)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ping sends one inline PING and expects +PONG: all a process manager
// needs to know that redis-server is up, without a Redis client library.
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(200 * time.Millisecond)); err != nil {
		return err
	}
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	reply, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if reply != "+PONG\r\n" {
		return fmt.Errorf("PING answered %q", strings.TrimSpace(reply))
	}
	return nil
}
