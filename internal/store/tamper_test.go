package store

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/keybroker/keybroker/internal/redistest"
	"github.com/keybroker/keybroker/internal/secret"
)

// Someone with write access to Redis (but not the data key) overwrites a
// sealed key's value with a plaintext secret of their choosing. Before,
// plaintext was taken as legacy data and leased to callers; now it is
// refused on every path that hands a secret out: Pick (GetRandom from the
// store), ActivePage and Fetch (the in-memory view), List (reveal).
func TestPlantedPlaintextIsNeverLeased(t *testing.T) {
	rdb := redistest.Deploy(t).Client()
	ctx := context.Background()
	ring := keyring(t, "k1", map[string][]byte{"k1": dataKey()})
	st := New(rdb, secret.NewIDs([]byte("x")), WithKeyring(ring))
	added, err := st.Add(ctx, "p", []string{"sk-genuine-secret-00000001"})
	if err != nil {
		t.Fatal(err)
	}
	id := added.KeyIDs[0]
	rdb.HSet(ctx, prefix("p")+"k:"+id, "s", "sk-ant-ATTACKER-000000000001")

	if p, err := st.Pick(ctx, "p"); !errors.Is(err, ErrPlaintext) {
		t.Fatalf("Pick of a planted plaintext = %+v, %v; want ErrPlaintext", p, err)
	}
	page, err := st.ActivePage(ctx, "p", "", 10, true)
	if err != nil || len(page.Keys) != 1 || !errors.Is(page.Keys[0].Err, ErrPlaintext) || page.Keys[0].Secret != "" {
		t.Fatalf("ActivePage = %+v, %v; want the key refused", page, err)
	}
	cur, err := st.Fetch(ctx, "p", []string{id})
	if err != nil || !errors.Is(cur[0].Err, ErrPlaintext) || cur[0].Secret != "" {
		t.Fatalf("Fetch = %+v, %v; want the key refused", cur, err)
	}
	// List keeps the key on its page (an admin must see it to remove it),
	// marked unreadable, its planted secret never opened.
	if lp, err := st.List(ctx, "p", Query{Limit: 10}); err != nil || len(lp.Keys) != 1 || !lp.Keys[0].Unreadable ||
		!errors.Is(lp.Keys[0].UnreadableErr, ErrPlaintext) || lp.Keys[0].Secret != "" {
		t.Fatalf("List = %+v, %v; want the key listed unreadable (ErrPlaintext)", lp, err)
	}
}

// Someone with write access to Redis moves one key's secret under another
// key's id (or writes any secret there). Without a keyring nothing is
// sealed, so only the key id check catches it: an opened secret must hash
// to the id it is stored under.
func TestSecretUnderAnotherKeyIDIsRefused(t *testing.T) {
	rdb := redistest.Deploy(t).Client()
	ctx := context.Background()
	st := New(rdb, secret.NewIDs([]byte("x")))
	added, err := st.Add(ctx, "p", []string{"sk-genuine-secret-00000001"})
	if err != nil {
		t.Fatal(err)
	}
	rdb.HSet(ctx, prefix("p")+"k:"+added.KeyIDs[0], "s", "sk-ant-ATTACKER-000000000001")
	if p, err := st.Pick(ctx, "p"); !errors.Is(err, ErrWrongSecret) {
		t.Fatalf("Pick of a secret under another key id = %+v, %v; want ErrWrongSecret", p, err)
	}
	cur, err := st.Fetch(ctx, "p", added.KeyIDs)
	if err != nil || !errors.Is(cur[0].Err, ErrWrongSecret) {
		t.Fatalf("Fetch = %+v, %v; want ErrWrongSecret", cur, err)
	}
}

// Someone with write access to Redis replaces a sealed broker key with a
// plaintext one they know (so they could compute key ids and forge
// leases). With a keyring it is refused and not resealed.
func TestPlantedPlaintextBrokerKeyIsRefused(t *testing.T) {
	rdb := redistest.Deploy(t).Client()
	ctx := context.Background()
	ring := keyring(t, "k1", map[string][]byte{"k1": dataKey()})
	if _, err := LoadBrokerKey(ctx, rdb, ring); err != nil {
		t.Fatal(err)
	}
	planted := "plain " + base64.RawStdEncoding.EncodeToString(make([]byte, BrokerKeyLen))
	rdb.Set(ctx, brokerKeyKey, planted, 0)
	if _, err := LoadBrokerKey(ctx, rdb, ring); !errors.Is(err, ErrPlaintextBrokerKey) {
		t.Fatalf("planted plaintext broker key: %v, want ErrPlaintextBrokerKey", err)
	}
	if now := rdb.Get(ctx, brokerKeyKey).Val(); now != planted || strings.HasPrefix(now, "enc1") {
		t.Fatal("the planted broker key was resealed")
	}
}
