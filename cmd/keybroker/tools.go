package main

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/keybroker/keybroker/internal/auth"
	"github.com/keybroker/keybroker/internal/seal"
)

// genKey prints a new data key line for --encryption-key-file.
func genKey(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("keybroker genkey", stderr)
	id := fs.String("id", "k"+time.Now().UTC().Format("20060102"), "key id (1 to 32 of [A-Za-z0-9_-]); put the new key first to make it primary")
	if rest, err := parseArgs(fs, args); err != nil || len(rest) > 0 {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	raw := make([]byte, seal.KeyLen)
	if _, err := rand.Read(raw); err != nil {
		fmt.Fprintf(stderr, "keybroker genkey: %v\n", err)
		return 1
	}
	line := *id + "=" + base64.StdEncoding.EncodeToString(raw)
	if _, err := seal.ParseKeys(line); err != nil {
		fmt.Fprintf(stderr, "keybroker genkey: %v\n", err)
		return 2
	}
	fmt.Fprintln(stdout, line)
	return 0
}

// genToken prints a new random bearer token and the SHA-256 to put in the
// auth file, so the file never holds the token itself.
func genToken(args []string, stdout, stderr io.Writer) int {
	if code := noArgs("gen-token", "Print a new random bearer token and the SHA-256 to put in --auth-file.", args, stderr); code >= 0 {
		return code
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		fmt.Fprintf(stderr, "keybroker gen-token: %v\n", err)
		return 1
	}
	tok := base64.RawURLEncoding.EncodeToString(raw)
	sum := sha256.Sum256([]byte(tok))
	fmt.Fprintf(stdout, "token:  %s\nsha256: %s\n", tok, hex.EncodeToString(sum[:]))
	return 0
}

// hashToken reads a token from stdin and prints its SHA-256 for the auth
// file.
func hashToken(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if code := noArgs("hash-token", "Print the SHA-256 of the token on standard input, for --auth-file.", args, stderr); code >= 0 {
		return code
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	tok := strings.TrimSpace(line)
	if tok == "" {
		fmt.Fprintf(stderr, "keybroker hash-token: give the token on standard input (%v)\n", err)
		return 2
	}
	if len(tok) < auth.MinTokenLen {
		fmt.Fprintf(stderr, "keybroker hash-token: tokens must be at least %d characters\n", auth.MinTokenLen)
		return 2
	}
	sum := sha256.Sum256([]byte(tok))
	fmt.Fprintln(stdout, hex.EncodeToString(sum[:]))
	return 0
}
