package host

import (
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/proofd/proofd/artifact"
)

// add registers an unpinned entry that records its eviction in gone.
func add(t *testing.T, b *Budget, name string, size uint64, gone *[]string) *Entry {
	t.Helper()
	e, err := b.Add(name, size, func() { *gone = append(*gone, name) })
	if err != nil {
		t.Fatal(err)
	}
	e.Unpin()
	return e
}

func TestBudgetEvictsLeastRecentlyUsed(t *testing.T) {
	b := NewBudget(10)
	var gone []string
	x := add(t, b, "x", 4, &gone)
	add(t, b, "y", 4, &gone)
	if !x.Pin() { // x is now more recent than y
		t.Fatal("x gone before the budget was full")
	}
	x.Unpin()
	add(t, b, "z", 4, &gone)
	if got, want := gone, []string{"y"}; !slices.Equal(got, want) {
		t.Fatalf("evicted %v, want %v", got, want)
	}
	if got := b.Used(); got != 8 {
		t.Fatalf("used %d bytes, want 8", got)
	}
}

func TestBudgetNeverEvictsPinned(t *testing.T) {
	b := NewBudget(10)
	var gone []string
	old := add(t, b, "old", 6, &gone)
	if !old.Pin() {
		t.Fatal("pin failed")
	}
	// 6 pinned: 5 more cannot fit, and nothing may be evicted for them.
	_, err := b.Add("new", 5, nil)
	if !errors.Is(err, ErrOverBudget) {
		t.Fatalf("adding 5 bytes beside 6 pinned of 10: got %v, want ErrOverBudget", err)
	}
	if len(gone) != 0 || b.Used() != 6 {
		t.Fatalf("a refused Add evicted %v, used %d", gone, b.Used())
	}
	// Growing a pinned entry evicts others, but not past what is pinned.
	small := add(t, b, "small", 3, &gone)
	grow, err := b.Add("grow", 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := grow.Resize(4); err != nil {
		t.Fatalf("growing to 4 beside 6 pinned: %v", err)
	}
	if !slices.Equal(gone, []string{"small"}) || small.Pin() {
		t.Fatalf("evicted %v, want small", gone)
	}
	if err := grow.Resize(5); !errors.Is(err, ErrOverBudget) || grow.Size() != 4 {
		t.Fatalf("growing to 5 beside 6 pinned of 10: %v, size %d", err, grow.Size())
	}
	old.Unpin()
	if err := grow.Resize(5); err != nil || !slices.Equal(gone, []string{"small", "old"}) {
		t.Fatalf("after unpinning: %v, evicted %v", err, gone)
	}
	grow.Unpin()
}

func TestBudgetDropWaitsForUnpin(t *testing.T) {
	b := NewBudget(10)
	var gone []string
	e := add(t, b, "e", 5, &gone)
	e.Pin()
	e.Drop()
	if len(gone) != 0 || b.Used() != 5 {
		t.Fatal("a pinned entry was dropped while in use")
	}
	if e.Pin() {
		t.Fatal("a dropped entry could be pinned again")
	}
	e.Unpin()
	if !slices.Equal(gone, []string{"e"}) || b.Used() != 0 {
		t.Fatalf("after the last unpin: evicted %v, used %d", gone, b.Used())
	}
	e.Drop() // twice is harmless
	if len(gone) != 1 {
		t.Fatal("dropped twice")
	}
}

// TestBudgetConcurrent: however calls interleave, what is registered
// never exceeds the budget and pinned entries are never evicted.
func TestBudgetConcurrent(t *testing.T) {
	b := NewBudget(1000)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				var mu sync.Mutex
				evicted := false
				e, err := b.Add("x", uint64(50+(g*i)%200), func() { mu.Lock(); evicted = true; mu.Unlock() })
				if err != nil {
					continue // everything else pinned: refused, fine
				}
				if err := e.Resize(uint64(100 + (g+i)%150)); err != nil && !errors.Is(err, ErrOverBudget) {
					t.Error(err)
				}
				if u := b.Used(); u > b.Max() {
					t.Errorf("used %d of %d", u, b.Max())
				}
				mu.Lock()
				if evicted {
					t.Error("a pinned entry was evicted")
				}
				mu.Unlock()
				e.Unpin()
				if i%3 == 0 {
					e.Drop()
				}
			}
		}()
	}
	wg.Wait()
}

func TestStoreCountsDecodedForms(t *testing.T) {
	s := NewStore(1 << 20)
	a := artifact.New(make([]byte, 100<<10))
	if err := s.Put(a.Digest, "pk", a.Data); err != nil {
		t.Fatal(err)
	}
	l := s.Lease()
	v, missing, err := l.Decoded(a.Digest, "pk", func(b []byte) (any, error) { return make([]uint64, 50<<10), nil })
	if missing || err != nil || len(v.([]uint64)) != 50<<10 {
		t.Fatalf("Decoded = %v %v", missing, err)
	}
	if _, used := s.Stats(); used < 500<<10 {
		t.Fatalf("resident %d bytes; the artifact (100 KiB) and its decoded form (400 KiB) are not both counted", used)
	}
	// A second artifact that fits only if the pinned first one went: refused.
	b := artifact.New(make([]byte, 600<<10))
	b.Data[0] = 1
	b = artifact.New(b.Data)
	if err := s.Put(b.Digest, "pk", b.Data); !errors.Is(err, ErrOverBudget) {
		t.Fatalf("put beside a pinned artifact: %v, want ErrOverBudget", err)
	}
	l.Release()
	if err := s.Put(b.Digest, "pk", b.Data); err != nil {
		t.Fatal(err)
	}
	if s.Has(a.Digest) || !s.Has(b.Digest) {
		t.Fatal("the unpinned artifact was not evicted for the new one")
	}
	if n, used := s.Stats(); n != 1 || used != 600<<10 {
		t.Fatalf("stats %d artifacts, %d bytes; want 1, %d (the decoded form left with its bytes)", n, used, 600<<10)
	}
}

func TestStoreDecodesOnce(t *testing.T) {
	s := NewStore(1 << 20)
	a := artifact.New([]byte("key"))
	s.Put(a.Digest, "pk", a.Data)
	calls := 0
	for range 3 {
		l := s.Lease()
		v, missing, err := l.Decoded(a.Digest, "pk", func(b []byte) (any, error) { calls++; return string(b), nil })
		l.Release()
		if missing || err != nil || v != "key" {
			t.Fatalf("Decoded = %v %v %v", v, missing, err)
		}
	}
	if calls != 1 {
		t.Fatalf("decoded %d times, want 1", calls)
	}
	if _, missing, _ := s.Lease().Decoded(artifact.Digest{9}, "pk", nil); !missing {
		t.Fatal("unknown digest not reported missing")
	}
}

func TestSizeOf(t *testing.T) {
	type node struct {
		name string
		next *node
		data []uint32
		m    map[string][]byte
	}
	shared := &node{name: "abcd", data: make([]uint32, 10, 16)}
	v := struct {
		a, b *node
		arr  [2][]byte
		i    any
	}{a: shared, b: shared, arr: [2][]byte{make([]byte, 100), nil}, i: &node{m: map[string][]byte{"k": make([]byte, 7)}}}
	nodeSize := uint64(16 + 8 + 24 + 8) // string, pointer, slice, map headers
	want := uint64(8+8+2*24+16) +       // v itself
		nodeSize + 4 + 16*4 + // shared, once: its name and data by capacity
		100 + // arr[0]
		nodeSize + (16 + 24) + 1 + 7 // the node in i, its map entry (key, value headers), "k" and the bytes
	if got := SizeOf(v); got != want {
		t.Fatalf("SizeOf = %d, want %d", got, want)
	}
	if SizeOf(nil) != 0 {
		t.Fatal("SizeOf(nil) != 0")
	}
	cyclic := &node{}
	cyclic.next = cyclic
	if got := SizeOf(cyclic); got != 8+nodeSize {
		t.Fatalf("SizeOf of a cycle = %d", got)
	}
}
