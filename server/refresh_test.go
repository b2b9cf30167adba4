package server_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/store"
	"github.com/keybroker/keybroker/server"
)

// refreshingSelector picks from the store and records what the service
// asks it to re-read.
type refreshingSelector struct {
	*store.Store
	mu    sync.Mutex
	asked []string
}

func (f *refreshingSelector) Refresh(_ context.Context, pool string, ids ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, id := range ids {
		f.asked = append(f.asked, pool+"/"+id)
	}
}

func (f *refreshingSelector) take() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.asked
	f.asked = nil
	return out
}

// A caching selector hears about every key the service itself makes
// unselectable, and only those, so a replica reads its own writes.
func TestServiceAsksTheSelectorToRefreshWhatItChanged(t *testing.T) {
	sel := &refreshingSelector{}
	h := newHarness(t, withSelector(func(st *store.Store) server.Selector { sel.Store = st; return sel }))
	const pool = "refresh"
	ids := h.add(t, pool, "sk-refresh-key-00001", "sk-refresh-key-00002", "sk-refresh-key-00003")

	report := func(id string, status int32) {
		h.report(t, &pb.ReportFailureRequest{Pool: pool, Key: &pb.ReportFailureRequest_KeyId{KeyId: id}, HttpStatus: status})
	}
	report(ids[0], 503) // transient: the key stays active
	if got := sel.take(); len(got) != 0 {
		t.Fatalf("a transient failure made the service refresh %v", got)
	}
	report(ids[0], 429)
	if got := sel.take(); !slices.Equal(got, []string{pool + "/" + ids[0]}) {
		t.Fatalf("after a 429, refreshed %v, want the key", got)
	}
	if _, err := h.client.Remove(h.ctx(t), &pb.RemoveRequest{Pool: pool, KeyIds: []string{ids[1], "0123456789abcdef"}}); err != nil {
		t.Fatal(err)
	}
	if got := sel.take(); !slices.Equal(got, []string{pool + "/" + ids[1]}) {
		t.Fatalf("after Remove, refreshed %v, want the removed key only", got)
	}
	if _, err := h.client.GetRandom(context.Background(), &pb.GetRandomRequest{Pool: pool}); err != nil {
		t.Fatalf("GetRandom through the selector: %v", err)
	}
}
