package receipts

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

func openT(t testing.TB, dir string, opts Options) *Store {
	t.Helper()
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil && !errors.Is(err, ErrClosed) {
			t.Error(err)
		}
	})
	return s
}

func memStore(t *testing.T) *Store {
	return openT(t, "db", Options{FS: vfs.NewMem()})
}

func receiptFor(k Key) Receipt {
	return Receipt{Proof: []byte("proof of " + k.String()[:16]), Public: k.Statement[:4], Created: time.Unix(100, 5)}
}

func sameReceipt(a, b Receipt) bool {
	return bytes.Equal(a.Proof, b.Proof) && bytes.Equal(a.Public, b.Public) && a.Created.Equal(b.Created)
}

func TestPutGetAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	keys := []Key{
		{Checkpoint: 1, Block: fill(1), Kind: KindTx, Image: fill(2), Statement: StatementDigest(Field{"tx", []byte("a")}), Index: 0},
		{Checkpoint: 1, Block: fill(1), Kind: KindBatch, Image: fill(3), Statement: StatementDigest(Field{"block", []byte("b")})},
		{Checkpoint: 9, Block: fill(4), Kind: KindAggregate, Image: fill(5), Statement: StatementDigest(Field{"bundle", []byte("c")}), Index: 9},
	}
	s := openT(t, dir, Options{})
	for _, k := range keys {
		if err := s.Put(ctx, k, receiptFor(k)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openT(t, dir, Options{})
	for _, k := range keys {
		got, ok, err := s.Get(k)
		if err != nil || !ok || !sameReceipt(got, receiptFor(k)) {
			t.Errorf("after reopen, Get(%s) = %+v, %v, %v; want %+v", k, got, ok, err, receiptFor(k))
		}
	}
	other := keys[0]
	other.Statement = StatementDigest(Field{"tx", []byte("a")}, Field{"config", []byte("changed")})
	if _, ok, err := s.Get(other); ok || err != nil {
		t.Errorf("Get with another statement digest = %v, %v; want a miss", ok, err)
	}
}

func TestPutStampsCreated(t *testing.T) {
	now := time.Unix(42, 0)
	s := openT(t, "db", Options{FS: vfs.NewMem(), Now: func() time.Time { return now }})
	k := Key{Kind: KindTx}
	if err := s.Put(context.Background(), k, Receipt{Proof: []byte{1}}); err != nil {
		t.Fatal(err)
	}
	if got, _, err := s.Get(k); err != nil || !got.Created.Equal(now) {
		t.Errorf("Created = %v, %v; want %v", got.Created, err, now)
	}
}

func TestPutRejects(t *testing.T) {
	s := openT(t, "db", Options{FS: vfs.NewMem(), MaxProofBytes: 4, MaxPublicBytes: 2})
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, c := range []struct {
		name string
		ctx  context.Context
		k    Key
		r    Receipt
		want string
	}{
		{"kind", context.Background(), Key{Kind: 0}, Receipt{}, "kind 0 is not tx"},
		{"batch index", context.Background(), Key{Kind: KindBatch, Index: 3}, Receipt{}, "batch key has index 3"},
		{"proof size", context.Background(), Key{Kind: KindTx}, Receipt{Proof: make([]byte, 5)}, "proof is 5 bytes, over MaxProofBytes 4"},
		{"public size", context.Background(), Key{Kind: KindTx}, Receipt{Public: make([]byte, 3)}, "public inputs are 3 bytes, over MaxPublicBytes 2"},
		{"canceled", canceled, Key{Kind: KindTx}, Receipt{}, "context canceled"},
	} {
		err := s.Put(c.ctx, c.k, c.r)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Put error %v, want one saying %q", c.name, err, c.want)
		}
	}
	if st, err := s.Stats(); err != nil || len(st) != 0 {
		t.Errorf("rejected puts stored something: %v, %v", st, err)
	}
}

func TestCorruptValueIsNamedNotServed(t *testing.T) {
	s := memStore(t)
	k := Key{Checkpoint: 7, Kind: KindBatch, Statement: fill(9)}
	good := encodeValue(k.Statement, receiptFor(k))
	flipped := bytes.Clone(good)
	flipped[len(flipped)-9] ^= 0x10
	for name, bad := range map[string][]byte{
		"flipped byte": flipped,
		"truncated":    good[:20],
		"version":      append([]byte{7}, good[1:]...),
	} {
		// Written behind the store's back, as a disk or a bug might.
		if err := s.db.Set(k.Encode(), bad, pebble.Sync); err != nil {
			t.Fatal(err)
		}
		r, ok, err := s.Get(k)
		if !errors.Is(err, ErrCorrupt) || ok || r.Proof != nil {
			t.Errorf("%s: Get = %+v, %v, %v; want ErrCorrupt and nothing served", name, r, ok, err)
		}
		if err != nil && !strings.Contains(err.Error(), k.String()) {
			t.Errorf("%s: error %q does not name key %s", name, err, k)
		}
	}
}

func TestStaleReceiptIsNeverServed(t *testing.T) {
	s := memStore(t)
	k := Key{Checkpoint: 7, Block: fill(3), Kind: KindTx, Image: fill(4), Statement: StatementDigest(Field{"config", []byte("v1")}), Index: 2}
	// Same coordinates, but the value proves another statement.
	other := StatementDigest(Field{"config", []byte("v2")})
	if err := s.db.Set(k.Encode(), encodeValue(other, receiptFor(k)), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	r, ok, err := s.Get(k)
	if !errors.Is(err, ErrStale) || ok || r.Proof != nil {
		t.Errorf("Get = %+v, %v, %v; want ErrStale and nothing served", r, ok, err)
	}
	if err != nil && !strings.Contains(err.Error(), k.String()) {
		t.Errorf("error %q does not name key %s", err, k)
	}
}

// randomKey draws from small sets so checkpoints, forks and images collide.
func randomKey(rng *rand.Rand) Key {
	k := Key{
		Checkpoint: rng.Uint64N(12),
		Block:      fill(byte(rng.IntN(3)) * 0x55),
		Kind:       Kinds[rng.IntN(len(Kinds))],
		Image:      fill(byte(rng.IntN(2)) * 0x80),
		Statement:  StatementDigest(Field{"n", []byte{byte(rng.IntN(256))}}),
		Index:      rng.Uint64N(4),
	}
	if k.Kind == KindBatch {
		k.Index = 0
	}
	return k
}

func TestPruneMatchesModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	ctx := context.Background()
	s := memStore(t)
	model := map[Key]bool{}
	put := func(k Key) {
		if err := s.Put(ctx, k, receiptFor(k)); err != nil {
			t.Fatal(err)
		}
		model[k] = true
	}
	// Extremes of the boundary: the largest key at a checkpoint and the
	// smallest at the next.
	var ff [32]byte
	for i := range ff {
		ff[i] = 0xff
	}
	for c := range uint64(12) {
		put(Key{Checkpoint: c, Block: ff, Kind: KindAggregate, Image: ff, Statement: ff, Index: math.MaxUint64})
		put(Key{Checkpoint: c, Kind: KindTx})
	}
	for range 300 {
		put(randomKey(rng))
	}
	for _, through := range []uint64{0, 3, 3, 2, 7, 10} {
		if err := s.Prune(through); err != nil {
			t.Fatal(err)
		}
		for k := range model {
			if k.Checkpoint <= through {
				delete(model, k)
			}
		}
		if got := storedKeys(t, s); len(got) != len(model) {
			t.Errorf("after Prune(%d): %d keys stored, model has %d", through, len(got), len(model))
		} else {
			for _, k := range got {
				if !model[k] {
					t.Errorf("after Prune(%d): %s stored, not in the model", through, k)
				}
			}
		}
		for k := range model {
			if r, ok, err := s.Get(k); !ok || err != nil || !sameReceipt(r, receiptFor(k)) {
				t.Errorf("after Prune(%d): Get(%s) = %v, %v", through, k, ok, err)
			}
		}
		// More writes between prunes, below and above the last prune.
		for range 30 {
			put(randomKey(rng))
		}
	}
	if err := s.Prune(math.MaxUint64); err != nil {
		t.Fatal(err)
	}
	if got := storedKeys(t, s); len(got) != 0 {
		t.Errorf("Prune(MaxUint64) left %d keys", len(got))
	}
}

func storedKeys(t *testing.T, s *Store) []Key {
	t.Helper()
	it, err := s.db.NewIter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var keys []Key
	for it.First(); it.Valid(); it.Next() {
		k, err := DecodeKey(it.Key())
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	return keys
}

func TestStats(t *testing.T) {
	s := memStore(t)
	ctx := context.Background()
	want := map[Kind]KindStats{}
	for i, kind := range []Kind{KindTx, KindTx, KindTx, KindBatch, KindAggregate, KindAggregate} {
		k := Key{Checkpoint: uint64(i), Kind: kind}
		r := Receipt{Proof: make([]byte, 10*i), Created: time.Unix(1, 0)}
		if err := s.Put(ctx, k, r); err != nil {
			t.Fatal(err)
		}
		st := want[kind]
		st.Receipts++
		st.Bytes += int64(KeyLen + valueMinLen + 10*i)
		want[kind] = st
	}
	got, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Stats() = %v, want %v", got, want)
	}
}

func TestKeysInCheckpointOrder(t *testing.T) {
	s := memStore(t)
	var want []Key
	for _, c := range []uint64{7, 2, 5} {
		k := Key{Checkpoint: c, Kind: KindBatch}
		if err := s.Put(context.Background(), k, Receipt{Proof: []byte{1}}); err != nil {
			t.Fatal(err)
		}
		want = append(want, k)
	}
	slices.SortFunc(want, func(a, b Key) int { return cmp.Compare(a.Checkpoint, b.Checkpoint) })
	var got []Key
	if err := s.Keys(func(k Key) error { got = append(got, k); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Keys = %v, want %v", got, want)
	}
	stop := errors.New("stop")
	n := 0
	if err := s.Keys(func(Key) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Fatalf("Keys after fn's error: %v after %d keys", err, n)
	}
}

func TestBadOptionsListEveryProblem(t *testing.T) {
	_, err := Open(t.TempDir(), Options{CacheSize: -1, MemTableSize: MaxMemTableSize + 1, MaxProofBytes: -2, MaxPublicBytes: -3})
	if err == nil {
		t.Fatal("Open accepted bad options")
	}
	for _, want := range []string{"CacheSize -1", "MemTableSize 4294967296", "MaxProofBytes -2", "MaxPublicBytes -3"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if _, err := Open("", Options{}); err == nil || !strings.Contains(err.Error(), "directory is empty") {
		t.Errorf("Open(\"\") error %v, want one naming the empty directory", err)
	}
}

func TestClosedStore(t *testing.T) {
	s := memStore(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	k := Key{Kind: KindTx}
	_, _, getErr := s.Get(k)
	_, statsErr := s.Stats()
	for name, err := range map[string]error{
		"Put":   s.Put(context.Background(), k, Receipt{}),
		"Get":   getErr,
		"Prune": s.Prune(1),
		"Stats": statsErr,
		"Close": s.Close(),
	} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
}

// The hooks see every database write, with the bytes Stats counts for it,
// and nothing Put refuses before writing.
func TestHooksSeeWrites(t *testing.T) {
	var puts int
	putBytes := map[Kind]int64{}
	var pruned []uint64
	s := openT(t, "hooks", Options{FS: vfs.NewMem(), Hooks: Hooks{
		Put: func(kind Kind, n int, d time.Duration, err error) {
			if err != nil || d <= 0 {
				t.Errorf("put hook: took %v, err %v", d, err)
			}
			puts++
			putBytes[kind] += int64(n)
		},
		Prune: func(through uint64, _ time.Duration, err error) {
			if err != nil {
				t.Error(err)
			}
			pruned = append(pruned, through)
		},
	}})
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 5 {
		k := randomKey(rng)
		k.Checkpoint = uint64(i) // distinct keys: no put overwrites another
		if err := s.Put(context.Background(), k, receiptFor(k)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Put(context.Background(), Key{Kind: 9}, Receipt{}); err == nil {
		t.Fatal("a key of kind 9 was stored")
	}
	stats, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range Kinds {
		if stats[kind].Bytes != putBytes[kind] {
			t.Errorf("%s: hooks saw %d bytes, Stats counts %d", kind, putBytes[kind], stats[kind].Bytes)
		}
	}
	if puts != 5 {
		t.Errorf("put hook called %d times, want 5 (the refused put is no write)", puts)
	}
	if err := s.Prune(7); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(pruned, []uint64{7}) {
		t.Errorf("prune hook saw %v, want [7]", pruned)
	}
}
