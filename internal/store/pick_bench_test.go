package store

import (
	"context"
	"testing"

	"github.com/keybroker/keybroker/internal/redistest"
	"github.com/keybroker/keybroker/internal/secret"
)

// BenchmarkPick is the per-call Redis selection (--selection-source
// redis) on a 10-key pool: the Picker a broker uses (one SRANDMEMBER,
// secrets cached, counts flushed later), Store.Pick (pickfast.lua), the
// full pick script every call ran before (prelude, wake, counts), and the
// seed design's bare SRANDMEMBER on a plain set, which it must match.
func BenchmarkPick(b *testing.B) {
	rdb := redistest.Deploy(b).Client()
	st := New(rdb, secret.NewIDs([]byte("bench-key")))
	ctx := context.Background()
	if _, err := st.Add(ctx, "p", secrets(10)); err != nil {
		b.Fatal(err)
	}
	set := (&Conn{rdb: rdb}).PlainSet("seed:{p}")
	if err := set.Reset(ctx, secrets(10)); err != nil {
		b.Fatal(err)
	}
	picker := st.NewPicker()
	for _, c := range []struct {
		name string
		pick func() error
	}{
		{"picker", func() error { _, err := picker.Pick(ctx, "p"); return err }},
		{"pick", func() error { _, err := st.Pick(ctx, "p"); return err }},
		{"full-script", func() error { _, err := st.pickSlow(ctx, "p"); return err }},
		{"seed-srandmember", func() error { _, err := set.Random(ctx); return err }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := c.pick(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
