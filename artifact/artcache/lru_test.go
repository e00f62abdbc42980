package artcache

import (
	"cmp"
	"reflect"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/proofd/proofd/artifact"
)

// lruModel is a second, independent account of a tier: each held digest's
// size and the logical time it was last used. The lru must hold the same
// digests, in the order of those times, and drop the oldest when over.
type lruModel struct {
	budget int64
	size   map[artifact.Digest]int64
	last   map[artifact.Digest]int
	clock  int
}

func (m *lruModel) use(d artifact.Digest) {
	m.clock++
	m.last[d] = m.clock
}

func (m *lruModel) add(d artifact.Digest, size int64) (dropped []entry) {
	if size > m.budget {
		return nil
	}
	m.size[d] = size
	m.use(d)
	for m.total() > m.budget {
		oldest := m.oldestFirst()[0]
		delete(m.size, oldest.d)
		delete(m.last, oldest.d)
		dropped = append(dropped, oldest)
	}
	return dropped
}

func (m *lruModel) total() (n int64) {
	for _, s := range m.size {
		n += s
	}
	return n
}

func (m *lruModel) oldestFirst() []entry {
	var out []entry
	for d, s := range m.size {
		out = append(out, entry{d, s})
	}
	slices.SortFunc(out, func(a, b entry) int { return cmp.Compare(m.last[a.d], m.last[b.d]) })
	return out
}

// oldestFirst lists l's entries from least to most recently used.
func (l *lru) oldestFirst() []entry {
	var out []entry
	for e := l.order.Back(); e != nil; e = e.Prev() {
		out = append(out, e.Value.(entry))
	}
	return out
}

func TestLRUAgainstModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		budget := rapid.Int64Range(0, 40).Draw(t, "budget")
		l := newLRU(budget)
		m := &lruModel{budget: budget, size: map[artifact.Digest]int64{}, last: map[artifact.Digest]int{}}
		digests := make([]artifact.Digest, 6)
		for i := range digests {
			digests[i] = artifact.Digest{byte(i + 1)}
		}
		// Sizes are a function of the digest, as they are for content.
		sizeOf := func(d artifact.Digest) int64 { return int64(d[0]) * 5 }
		pick := func(t *rapid.T) artifact.Digest { return rapid.SampledFrom(digests).Draw(t, "d") }
		t.Repeat(map[string]func(*rapid.T){
			"add": func(t *rapid.T) {
				d := pick(t)
				got, want := l.add(d, sizeOf(d)), m.add(d, sizeOf(d))
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("add %d: dropped %v, want %v", d[0], got, want)
				}
			},
			"touch": func(t *rapid.T) {
				d := pick(t)
				_, held := m.size[d]
				if held {
					m.use(d)
				}
				if got := l.touch(d); got != held {
					t.Fatalf("touch %d = %v, want %v", d[0], got, held)
				}
			},
			"remove": func(t *rapid.T) {
				d := pick(t)
				l.remove(d)
				delete(m.size, d)
				delete(m.last, d)
			},
			"": func(t *rapid.T) {
				if got, want := l.oldestFirst(), m.oldestFirst(); !reflect.DeepEqual(got, want) {
					t.Fatalf("entries %v, want %v", got, want)
				}
				if got, want := l.bytes, m.total(); got != want || got > budget {
					t.Fatalf("bytes %d, want %d within budget %d", got, want, budget)
				}
				if l.len() != len(m.size) {
					t.Fatalf("len %d, want %d", l.len(), len(m.size))
				}
				for _, d := range digests {
					if _, held := m.size[d]; l.has(d) != held {
						t.Fatalf("has %d = %v, want %v", d[0], !held, held)
					}
				}
			},
		})
	})
}
