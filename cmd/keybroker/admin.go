package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/keybroker/keybroker/client"
	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
)

// Exit codes of the admin commands: a usage error is told apart from a
// call that failed.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

// adminEnv is what an admin command runs with.
type adminEnv struct {
	ctx            context.Context
	getenv         func(string) string
	stdin          io.Reader
	stdout, stderr io.Writer
}

// usageError is a command line that cannot be run; it exits with
// exitUsage.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// connFlags are the flags every admin command has: where the broker is and
// how to talk to it. They are the only flags an admin command reads from
// KEYBROKER_* variables (connEnv); flags win.
type connFlags struct {
	addr    string
	token   string
	timeout time.Duration
	caCert  string // TLS: verify the broker against these CAs
	cert    string // mTLS: present this client certificate
	key     string
}

// connEnv is the allow-list of admin flags read from the environment.
var connEnv = map[string]bool{"addr": true, "token": true, "timeout": true, "cacert": true, "cert": true, "key": true}

func (c *connFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.addr, "addr", "127.0.0.1:50051", "broker address: host:port or unix:///path/to.sock")
	fs.StringVar(&c.token, "token", "", "bearer token for a broker that requires one")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "deadline of each call to the broker")
	fs.StringVar(&c.caCert, "cacert", "", "speak TLS and verify the broker against this CA bundle (PEM)")
	fs.StringVar(&c.cert, "cert", "", "client certificate (PEM) for mTLS; needs --cacert")
	fs.StringVar(&c.key, "key", "", "the client certificate's private key (PEM)")
}

// transport returns TLS credentials when --cacert is given, nil for
// plaintext (loopback or a unix socket).
func (c *connFlags) transport() (credentials.TransportCredentials, error) {
	if c.caCert == "" {
		if c.cert != "" || c.key != "" {
			return nil, usagef("--cert and --key need --cacert: mTLS runs over TLS")
		}
		return nil, nil
	}
	pem, err := os.ReadFile(c.caCert)
	if err != nil {
		return nil, fmt.Errorf("--cacert: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--cacert %s holds no PEM certificate", c.caCert)
	}
	cfg := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	if c.cert != "" || c.key != "" {
		pair, err := tls.LoadX509KeyPair(c.cert, c.key)
		if err != nil {
			return nil, fmt.Errorf("--cert/--key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return credentials.NewTLS(cfg), nil
}

// dial returns a client for the broker. It does not connect yet: the
// first call does, and a broker that is down fails that call.
func (c *connFlags) dial() (*client.Client, error) {
	opts := []client.Option{client.WithTimeout(c.timeout)}
	if c.token != "" {
		opts = append(opts, client.WithBearerToken(c.token))
	}
	creds, err := c.transport()
	if err != nil {
		return nil, err
	}
	if creds != nil {
		opts = append(opts, client.WithTransportCredentials(creds))
	}
	return client.New(c.addr, opts...)
}

// parseAdminFlags parses a subcommand's flags, the connection flags
// included, wherever they stand among the arguments, and returns the
// positional arguments. -h prints the usage and returns flag.ErrHelp.
func parseAdminFlags(fs *flag.FlagSet, conn *connFlags, env adminEnv, args []string) ([]string, error) {
	fs.SetOutput(env.stderr)
	conn.register(fs)
	if err := fillFromEnv(fs, env.getenv, func(name string) bool { return connEnv[name] }); err != nil {
		return nil, usageError{err.Error()}
	}
	rest, err := parseArgs(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, usageError{err.Error()}
	}
	return rest, nil
}

// exitCode prints err as one line prefixed by the command and returns the
// exit code for it.
func exitCode(cmd string, err error, conn *connFlags, stderr io.Writer) int {
	var ue usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "keybroker %s: %s\n", cmd, oneLine(ue.msg))
		return exitUsage
	}
	fmt.Fprintf(stderr, "keybroker %s: %s\n", cmd, oneLine(describe(err, conn)))
	return exitFail
}

// describe turns a call's error into what an operator needs to read: what
// went wrong and what to do, without gRPC's wording around it.
func describe(err error, conn *connFlags) string {
	var se interface {
		error
		GRPCStatus() *status.Status
	}
	if !errors.As(err, &se) {
		return err.Error()
	}
	st := se.GRPCStatus()
	prefix := strings.TrimSuffix(err.Error(), se.Error()) // the context it was wrapped in: "list pool "x": "
	msg := st.Message()
	switch {
	case st.Code() == codes.Unavailable && client.Reason(err) == pb.ErrorReason_ERROR_REASON_STORE_UNAVAILABLE:
		msg = fmt.Sprintf("the broker at %s cannot reach its key store (Redis); retry shortly", conn.addr)
	case st.Code() == codes.Unavailable && client.ErrorReason(err) == "":
		if i := strings.LastIndex(msg, "dial "); i >= 0 { // "connection error: desc = "transport: Error while dialing: dial tcp …: connection refused""
			msg = strings.TrimSuffix(msg[i:], `"`)
		}
		msg = fmt.Sprintf("cannot reach the broker at %s: %s", conn.addr, msg)
	case st.Code() == codes.DeadlineExceeded:
		msg = fmt.Sprintf("no answer from the broker at %s within %s (--timeout)", conn.addr, conn.timeout)
	case st.Code() == codes.Unauthenticated || st.Code() == codes.PermissionDenied:
		msg += " (set --token or KEYBROKER_TOKEN)"
	}
	return fmt.Sprintf("%s%s [%s]", prefix, msg, st.Code())
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// isTerminal reports whether w is a terminal, where progress lines are
// useful; in pipes and logs they are noise.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
