package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/keybroker/keybroker/internal/broker"
	"github.com/keybroker/keybroker/internal/store"
)

// seedCall is how many secrets one Add call carries (the RPC's limit) and
// seedConcurrency how many run at once, as an import tool would.
const (
	seedCall        = 10_000
	seedConcurrency = 4
)

// seedResult is what a seed child did.
type seedResult struct {
	Keys     int           `json:"keys"`
	Elapsed  time.Duration `json:"elapsed"`
	RedisCPU time.Duration `json:"-"` // redis-server's CPU time meanwhile, measured by the parent
}

// secretLen is the length of bench secrets: a classic OpenAI key
// ("sk-" and 48 characters). Memory per key grows with it byte for byte.
const secretLen = 51

// benchSecret is the i-th secret of a pool: deterministic, so the parent
// and a child agree without exchanging a million strings.
func benchSecret(pool string, i int) string {
	s := fmt.Sprintf("sk-%s-%012d-", pool, i)
	const fill = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	for j := 0; len(s) < secretLen; j++ {
		s += string(fill[(i+j)%len(fill)])
	}
	return s
}

// runSeed adds j.Keys keys to j.Pool through the store, in calls of
// seedCall secrets (the store writes each in atomic batches of 500).
func runSeed(ctx context.Context, j job, stdout io.Writer) error {
	b, err := broker.New(ctx, broker.Config{Redis: store.RedisConfig{Addrs: []string{j.Addr}, Timeout: 10 * time.Second}})
	if err != nil {
		return err
	}
	defer b.Close()
	st := b.Store()
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(seedConcurrency)
	for from := 0; from < j.Keys; from += seedCall {
		g.Go(func() error {
			secrets := make([]string, 0, seedCall)
			for i := from; i < min(from+seedCall, j.Keys); i++ {
				secrets = append(secrets, benchSecret(j.Pool, i))
			}
			_, err := st.Add(gctx, j.Pool, secrets)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("seed pool %q: %w", j.Pool, err)
	}
	return json.NewEncoder(stdout).Encode(seedResult{Keys: j.Keys, Elapsed: time.Since(start)})
}
