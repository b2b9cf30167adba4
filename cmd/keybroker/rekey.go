package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/keybroker/keybroker/internal/broker"
	"github.com/keybroker/keybroker/internal/store"
)

// rekey re-encrypts secrets with the primary data key, online: brokers keep
// serving while it runs, and it can be repeated safely.
func rekey(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := newFlagSet("keybroker rekey", stderr)
	var rf redisFlags
	rf.register(fs)
	pools := fs.String("pools", "", "comma-separated pools to rekey; empty: every pool")
	sealPlain := fs.Bool("seal-plaintext", false, "also seal secrets and the broker key stored before encryption was turned on (one-time migration; brokers with a data key refuse plaintext)")
	err := parseFlags(fs, args, getenv)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "keybroker rekey: %v\n", err)
		return 2
	}
	if err := runRekey(ctx, &rf, *pools, *sealPlain, getenv, stdout); err != nil {
		fmt.Fprintf(stderr, "keybroker rekey: %v\n", err)
		return 1
	}
	return 0
}

func runRekey(ctx context.Context, rf *redisFlags, poolList string, sealPlain bool, getenv func(string) string, stdout io.Writer) error {
	if len(rf.addrs()) == 0 {
		return errors.New("--redis is required: the embedded store has nothing to rekey")
	}
	ring, err := loadKeyring(rf.encryptionKeyFile, getenv)
	if err != nil {
		return err
	}
	if ring == nil {
		return errors.New("--encryption-key-file (or $" + envEncryptionKeys + ") is required")
	}
	// Opening the broker loads (and reseals) the broker key too.
	b, err := broker.New(ctx, broker.Config{
		Redis:         store.RedisConfig{Addrs: rf.addrs(), MasterName: rf.redisMasterName, Timeout: rf.redisTimeout},
		Keyring:       ring,
		SealPlaintext: sealPlain,
		AllowEviction: true, // rekey rewrites values in place; serve and worker check the policy
	})
	if err != nil {
		return err
	}
	defer b.Close()
	st := b.Store()
	names, err := poolNames(ctx, st, poolList)
	if err != nil {
		return err
	}
	for _, p := range names {
		res, err := st.Rekey(ctx, p)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "pool %s: %d keys, %d resealed with %s, %d already current, %d changed meanwhile (run again)\n",
			p, res.Keys, res.Resealed, ring.Primary(), res.Current, res.Raced)
	}
	return nil
}

func poolNames(ctx context.Context, st *store.Store, list string) ([]string, error) {
	if list == "" {
		return st.Pools(ctx)
	}
	var out []string
	for _, p := range strings.Split(list, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out, nil
}
