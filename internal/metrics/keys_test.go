package metrics

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/keybroker/keybroker/internal/store"
)

// countingPools answers from memory, or, when down, waits for the
// caller's deadline as a frozen Redis would; it counts the reads.
type countingPools struct {
	down  atomic.Bool
	reads atomic.Int64
}

func (c *countingPools) Pools(ctx context.Context) ([]string, error) {
	c.reads.Add(1)
	if c.down.Load() {
		<-ctx.Done()
		return nil, errors.New("i/o timeout")
	}
	return []string{"p"}, nil
}

func (c *countingPools) Counts(context.Context, string) (store.Counts, error) {
	return store.Counts{Active: 7}, nil
}

// During an outage /metrics served nothing for 2-3 s per scrape while it
// waited for Redis. It now serves the last counts with their age, and
// after one failed read does not ask Redis again for a while.
func TestKeyCountsDuringAnOutageAreTheLastKnown(t *testing.T) {
	src := &countingPools{}
	clock := time.Unix(1000, 0)
	c := newKeysCollector(src, 50*time.Millisecond, slog.New(slog.DiscardHandler), func() time.Time { return clock })
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	gather := func() (series int, age float64, hasAge bool) {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			switch mf.GetName() {
			case Namespace + "_keys":
				series = len(mf.GetMetric())
			case Namespace + "_keys_age_seconds":
				age, hasAge = mf.GetMetric()[0].GetGauge().GetValue(), true
			}
		}
		return series, age, hasAge
	}
	if n, _, _ := gather(); n != 5 {
		t.Fatalf("%d key series, want 5 (one per state)", n)
	}

	src.down.Store(true)
	clock = clock.Add(10 * time.Second)
	for range 3 { // the first scrape tries Redis once; the next ones do not
		n, age, ok := gather()
		if n != 5 || !ok || age != 10 {
			t.Fatalf("during the outage: %d key series, age %v (%v); want the last 5, 10s old", n, age, ok)
		}
	}
	if r := src.reads.Load(); r != 2 {
		t.Fatalf("%d reads of Redis, want 2 (one before the outage, one into it)", r)
	}
}
