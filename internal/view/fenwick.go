package view

import "math/bits"

// fenwick is a binary indexed tree over the weights of a pool's positions:
// O(log n) to change a weight, to append or drop the last position, and to
// find the position that a random point in [0, total) falls on. Weighted
// picks use it.
type fenwick struct {
	t     []int64 // 1-based: t[i-1] holds the sum of positions (i-lowbit(i), i]
	total int64
}

// push appends a position of weight w.
func (f *fenwick) push(w int64) {
	i := len(f.t) + 1
	low := i & -i
	// t[i] covers positions (i-low, i]: w plus the ones before it in that range.
	f.t = append(f.t, w+f.prefix(i-1)-f.prefix(i-low))
	f.total += w
}

// pop drops the last position, whose weight is w. No other node covers it.
func (f *fenwick) pop(w int64) {
	f.t = f.t[:len(f.t)-1]
	f.total -= w
}

// add changes the weight of position pos (0-based) by delta.
func (f *fenwick) add(pos int, delta int64) {
	for i := pos + 1; i <= len(f.t); i += i & -i {
		f.t[i-1] += delta
	}
	f.total += delta
}

// prefix is the sum of the first n positions.
func (f *fenwick) prefix(n int) int64 {
	var s int64
	for i := n; i > 0; i -= i & -i {
		s += f.t[i-1]
	}
	return s
}

// find returns the position (0-based) whose cumulative weight range holds
// r, for 0 <= r < total: each position is found with probability
// proportional to its weight when r is uniform.
func (f *fenwick) find(r int64) int {
	pos := 0
	for step := 1 << (bits.Len(uint(len(f.t))) - 1); step > 0; step >>= 1 {
		if next := pos + step; next <= len(f.t) && f.t[next-1] <= r {
			pos = next
			r -= f.t[next-1]
		}
	}
	return pos
}
