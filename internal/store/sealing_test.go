package store

import (
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/keybroker/keybroker/internal/redistest"
	"github.com/keybroker/keybroker/internal/seal"
	"github.com/keybroker/keybroker/internal/secret"
)

func keyring(t *testing.T, primary string, keys map[string][]byte) *seal.Keyring {
	t.Helper()
	k, err := seal.NewKeyring(primary, keys)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func dataKey() []byte {
	b := make([]byte, seal.KeyLen)
	rand.Read(b)
	return b
}

func TestSecretsAreSealedAtRest(t *testing.T) {
	rdb := redistest.Deploy(t).Client()
	ctx := context.Background()
	ring := keyring(t, "k1", map[string][]byte{"k1": dataKey()})
	if _, err := LoadBrokerKey(ctx, rdb, ring); err != nil {
		t.Fatal(err)
	}
	st := New(rdb, secret.NewIDs([]byte("x")), WithKeyring(ring))
	plain := []string{"sk-at-rest-UNIQUE-0001-zzzz", "sk-at-rest-UNIQUE-0002-zzzz"}
	if _, err := st.Add(ctx, "p", plain); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		p, err := st.Pick(ctx, "p")
		if err != nil || !strings.HasPrefix(p.Secret, "sk-at-rest-UNIQUE") {
			t.Fatalf("Pick = %+v, %v", p, err)
		}
	}
	page, err := st.List(ctx, "p", Query{Limit: 10})
	if err != nil || page.Keys[0].Secret == "" || !strings.HasPrefix(page.Keys[0].Secret, "sk-at-rest") {
		t.Fatalf("List = %+v, %v", page, err)
	}
	raw := redistest.Dump(t, rdb)
	if strings.Contains(raw, "UNIQUE") {
		t.Fatal("a secret is readable in Redis")
	}
	if strings.Contains(raw, "plain ") {
		t.Fatal("the broker key is stored in plain text")
	}
}

func TestRotationAndRekey(t *testing.T) {
	rdb := redistest.Deploy(t).Client()
	ctx := context.Background()
	ids := secret.NewIDs([]byte("x"))
	k1, k2 := dataKey(), dataKey()

	// Written before encryption was turned on.
	legacy := New(rdb, ids, WithBatchSize(7))
	if _, err := legacy.Add(ctx, "p", secrets(20)); err != nil {
		t.Fatal(err)
	}
	ring1 := keyring(t, "k1", map[string][]byte{"k1": k1})
	st1 := New(rdb, ids, WithKeyring(ring1), WithBatchSize(7))
	if page, err := st1.List(ctx, "p", Query{Limit: 100}); err != nil || len(page.Keys) != 20 ||
		!page.Keys[0].Unreadable || !errors.Is(page.Keys[0].UnreadableErr, ErrPlaintext) || page.Keys[0].Secret != "" {
		t.Fatalf("plaintext keys once encryption is on: %v; want them listed unreadable (ErrPlaintext)", err)
	}
	if _, err := st1.Rekey(ctx, "p"); !errors.Is(err, ErrPlaintext) {
		t.Fatalf("Rekey sealed plaintext without being told to: %v", err)
	}
	migrate := New(rdb, ids, WithKeyring(ring1), WithBatchSize(7), WithLegacyPlaintext())
	res, err := migrate.Rekey(ctx, "p")
	if err != nil || res.Keys != 20 || res.Resealed != 20 || res.Raced != 0 {
		t.Fatalf("first Rekey = %+v, %v", res, err)
	}
	if page, err := st1.List(ctx, "p", Query{Limit: 100}); err != nil || len(page.Keys) != 20 {
		t.Fatalf("sealed keys unreadable after the migration: %v", err)
	}
	if strings.Contains(redistest.Dump(t, rdb), "sk-test-") {
		t.Fatal("plaintext left after rekey")
	}
	if res, _ := st1.Rekey(ctx, "p"); res.Current != 20 || res.Resealed != 0 {
		t.Fatalf("second Rekey = %+v, want all current", res)
	}

	// Rotate: k2 becomes primary; k1 values stay readable until rekeyed.
	ring2 := keyring(t, "k2", map[string][]byte{"k1": k1, "k2": k2})
	st2 := New(rdb, ids, WithKeyring(ring2), WithBatchSize(7))
	if _, err := st2.Add(ctx, "p", []string{"sk-added-after-rotation-1"}); err != nil {
		t.Fatal(err)
	}
	if page, err := st2.List(ctx, "p", Query{Limit: 100}); err != nil || len(page.Keys) != 21 {
		t.Fatalf("mixed k1/k2 pool unreadable: %v", err)
	}
	res, err = st2.Rekey(ctx, "p")
	if err != nil || res.Resealed != 20 || res.Current != 1 {
		t.Fatalf("rotation Rekey = %+v, %v", res, err)
	}
	onlyK2 := New(rdb, ids, WithKeyring(keyring(t, "k2", map[string][]byte{"k2": k2})))
	page, err := onlyK2.List(ctx, "p", Query{Limit: 100})
	if err != nil || len(page.Keys) != 21 {
		t.Fatalf("after rekey the retired k1 is still needed: %v", err)
	}
}

func TestBrokerKeyRefusesMissingOrWrongKeysAndWritesNothing(t *testing.T) {
	rdb := redistest.Deploy(t).Client()
	ctx := context.Background()
	k1 := dataKey()

	plainKey, err := LoadBrokerKey(ctx, rdb, nil)
	if err != nil {
		t.Fatal(err)
	}
	ring := keyring(t, "k1", map[string][]byte{"k1": k1})
	if _, err := LoadBrokerKey(ctx, rdb, ring); !errors.Is(err, ErrPlaintextBrokerKey) {
		t.Fatalf("a plaintext broker key was accepted with encryption on: %v", err)
	}
	if now := rdb.Get(ctx, brokerKeyKey).Val(); !strings.HasPrefix(now, "plain ") {
		t.Fatal("the refused broker key was rewritten")
	}
	sealedKey, err := LoadBrokerKey(ctx, rdb, ring, SealPlaintextBrokerKey())
	if err != nil || string(sealedKey) != string(plainKey) {
		t.Fatalf("turning encryption on changed the broker key (key ids would change): %v", err)
	}
	stored := rdb.Get(ctx, brokerKeyKey).Val()
	if seal.KeyID(stored) != "k1" {
		t.Fatalf("broker key not resealed: %.10q", stored)
	}

	for name, r := range map[string]*seal.Keyring{
		"missing": nil,
		"wrong":   keyring(t, "k1", map[string][]byte{"k1": dataKey()}),
		"unknown": keyring(t, "k9", map[string][]byte{"k9": dataKey()}),
	} {
		_, err := LoadBrokerKey(ctx, rdb, r)
		if err == nil || !strings.Contains(err.Error(), "encrypt") {
			t.Errorf("%s keyring: err = %v, want a clear encryption error", name, err)
		}
		if now := rdb.Get(ctx, brokerKeyKey).Val(); now != stored {
			t.Errorf("%s keyring: the broker key was rewritten", name)
		}
	}
	legacy := New(rdb, secret.NewIDs(plainKey))
	sealedStore := New(rdb, secret.NewIDs(plainKey), WithKeyring(ring))
	if _, err := sealedStore.Add(ctx, "p", []string{"sk-needs-the-key-1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := legacy.Pick(ctx, "p"); err == nil {
		t.Error("a store without keys handed out a sealed secret")
	}
}

// The worker sends what Claim returns to the provider: it must be the
// secret, never its ciphertext, and a key this process cannot open must be
// set aside, not sent.
func TestClaimOpensSealedSecrets(t *testing.T) {
	rdb := redistest.Deploy(t).Client()
	ctx := context.Background()
	ids := secret.NewIDs([]byte("x"))
	k1, k2 := dataKey(), dataKey()
	st1 := New(rdb, ids, WithKeyring(keyring(t, "k1", map[string][]byte{"k1": k1})))
	st2 := New(rdb, ids, WithKeyring(keyring(t, "k2", map[string][]byte{"k2": k2})))
	if _, err := st1.Add(ctx, "p", []string{"sk-claim-sealed-000001"}); err != nil {
		t.Fatal(err)
	}
	if _, err := st2.Add(ctx, "p", []string{"sk-claim-sealed-000002"}); err != nil {
		t.Fatal(err)
	}
	c, err := st1.Claim(ctx, "p", 10, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Keys) != 1 || c.Keys[0].Secret != "sk-claim-sealed-000001" {
		t.Fatalf("claimed %+v, want the k1 key with its plaintext secret", c.Keys)
	}
	if len(c.Unreadable) != 1 || c.Unreadable[0] != st2.KeyID("sk-claim-sealed-000002") {
		t.Fatalf("unreadable = %v, want the k2 key", c.Unreadable)
	}
}

// Someone with write access to Redis (or a bit flip, or a data key
// retired too early) leaves one key's sealed secret unreadable: the page
// holding it must still list every key, that one marked unreadable,
// instead of failing whole (GetAll answered INTERNAL even without reveal).
func TestListShowsAnUnreadableSecretInsteadOfFailing(t *testing.T) {
	rdb := redistest.Deploy(t).Client()
	ctx := context.Background()
	ring := keyring(t, "k1", map[string][]byte{"k1": dataKey()})
	st := New(rdb, secret.NewIDs([]byte("x")), WithKeyring(ring))
	added, err := st.Add(ctx, "p", []string{"sk-unreadable-0001-zzzzzz", "sk-unreadable-0002-zzzzzz"})
	if err != nil {
		t.Fatal(err)
	}
	bad := added.KeyIDs[0]
	stored, err := rdb.HGet(ctx, "kb:{p}:k:"+bad, "s").Result()
	if err != nil {
		t.Fatal(err)
	}
	corrupt := stored[:len(stored)-4] + "AAAA"
	if corrupt == stored {
		corrupt = stored[:len(stored)-4] + "BBBB"
	}
	if err := rdb.HSet(ctx, "kb:{p}:k:"+bad, "s", corrupt).Err(); err != nil {
		t.Fatal(err)
	}
	page, err := st.List(ctx, "p", Query{Limit: 10})
	if err != nil {
		t.Fatalf("List with one corrupt secret = %v; want the page", err)
	}
	if len(page.Keys) != 2 {
		t.Fatalf("%d keys listed, want 2", len(page.Keys))
	}
	for _, k := range page.Keys {
		switch {
		case k.ID == bad && (!k.Unreadable || k.Secret != ""):
			t.Errorf("corrupt key listed as %+v, want unreadable with no secret", k)
		case k.ID != bad && (k.Unreadable || !strings.HasPrefix(k.Secret, "sk-unreadable-")):
			t.Errorf("good key listed as %+v", k)
		}
	}
}
