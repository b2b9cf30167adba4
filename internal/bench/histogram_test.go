package bench

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// Quantiles from the histogram are within its bucket precision of the
// exact ones, and merging histograms is the same as recording into one.
func TestHistogramQuantiles(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	a, b, all := newHistogram(), newHistogram(), newHistogram()
	var exact []time.Duration
	for i := range 20000 {
		d := time.Duration(r.ExpFloat64() * float64(300*time.Microsecond))
		exact = append(exact, d)
		all.record(d)
		if i%2 == 0 {
			a.record(d)
		} else {
			b.record(d)
		}
	}
	a.merge(b)
	slices.Sort(exact)
	for _, q := range []float64{0.5, 0.9, 0.99} {
		want := exact[int(q*float64(len(exact)))]
		got := all.quantile(q)
		if got > want || float64(want-got) > 0.02*float64(want)+1 {
			t.Errorf("quantile(%v) = %v, exact %v", q, got, want)
		}
		if a.quantile(q) != got {
			t.Errorf("merged quantile(%v) = %v, want %v", q, a.quantile(q), got)
		}
	}
	if newHistogram().quantile(0.5) != 0 || (*histogram)(nil).quantile(0.5) != 0 {
		t.Error("an empty histogram has a quantile")
	}
}

// Bucket bounds are increasing and each latency falls in the bucket whose
// bound is just below it.
func TestHistogramBuckets(t *testing.T) {
	for d := time.Duration(1); d < time.Hour; d += max(1, d/100) {
		b := bucket(d)
		if lo := lowerBound(b); lo > d || lowerBound(b+1) <= d {
			t.Fatalf("%v in bucket %d: bounds %v..%v", d, b, lo, lowerBound(b+1))
		}
	}
}
