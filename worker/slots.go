package worker

import "context"

// A check holds two slots while it runs: one of its pool's (the pool's
// concurrency) and one of the worker's (the overall bound).

// batch is how many free slots a pool with a backlog waits for before it
// claims again: a tenth of its concurrency, within the worker's own.
func (p *poolRunner) batch() int {
	return max(1, min(cap(p.slots), cap(p.w.slots))/10)
}

// acquire waits for want of the pool's slots, takes any more that are
// free, and pairs as many of them as it can with the worker's slots,
// waiting only for the first: a drain never waits on the worker's slots
// while holding some, so pools cannot starve each other into a deadlock.
// It returns how many pairs it holds (at least one).
func (p *poolRunner) acquire(ctx context.Context, want int) (int, error) {
	n := 0
	for ; n < want; n++ {
		if err := take(ctx, p.slots); err != nil {
			p.releasePool(n)
			return 0, err
		}
	}
	for n < cap(p.slots) && tryTake(p.slots) {
		n++
	}
	if err := take(ctx, p.w.slots); err != nil {
		p.releasePool(n)
		return 0, err
	}
	got := 1
	for got < n && tryTake(p.w.slots) {
		got++
	}
	p.releasePool(n - got)
	return got, nil
}

func (p *poolRunner) releasePool(n int) {
	for range n {
		<-p.slots
	}
}

// release gives back n pairs of slots.
func (p *poolRunner) release(n int) {
	for range n {
		<-p.w.slots
		<-p.slots
	}
}

func take(ctx context.Context, slots chan struct{}) error {
	select {
	case slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func tryTake(slots chan struct{}) bool {
	select {
	case slots <- struct{}{}:
		return true
	default:
		return false
	}
}
