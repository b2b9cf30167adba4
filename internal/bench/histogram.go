package bench

import (
	"math/bits"
	"slices"
	"time"
)

// subBuckets is how many buckets split each power of two of nanoseconds:
// 64 keeps every recorded latency within about 1.6% of its true value.
const subBuckets = 64

// histogram counts latencies in logarithmic buckets, so that runs of any
// length merge exactly and cost a few kilobytes.
type histogram struct {
	Counts map[int]int64 `json:"counts"`
	N      int64         `json:"n"`
}

func newHistogram() *histogram { return &histogram{Counts: map[int]int64{}} }

// bucket returns the bucket of d: below 64 ns one per nanosecond, above
// 64 per power of two, numbered on from 64.
func bucket(d time.Duration) int {
	ns := uint64(max(d, 1))
	exp := bits.Len64(ns) - 1
	if exp < 6 {
		return int(ns)
	}
	mant := (ns >> (exp - 6)) & (subBuckets - 1)
	return (exp-5)*subBuckets + int(mant)
}

// lowerBound is the smallest latency in bucket b.
func lowerBound(b int) time.Duration {
	if b < subBuckets {
		return time.Duration(b)
	}
	exp, mant := b/subBuckets+5, uint64(b%subBuckets)
	return time.Duration((subBuckets + mant) << (exp - 6))
}

func (h *histogram) record(d time.Duration) {
	h.Counts[bucket(d)]++
	h.N++
}

func (h *histogram) merge(o *histogram) {
	for b, n := range o.Counts {
		h.Counts[b] += n
	}
	h.N += o.N
}

// quantile returns the latency below which a fraction q of calls fell.
func (h *histogram) quantile(q float64) time.Duration {
	if h == nil || h.N == 0 {
		return 0
	}
	keys := make([]int, 0, len(h.Counts))
	for b := range h.Counts {
		keys = append(keys, b)
	}
	slices.Sort(keys)
	rank := int64(q * float64(h.N))
	var seen int64
	for _, b := range keys {
		seen += h.Counts[b]
		if seen > rank {
			return lowerBound(b)
		}
	}
	return lowerBound(keys[len(keys)-1])
}
