package snapshot

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/ethereum-optimism/optimism/cannon/mipsevm/memory"
)

// FuzzHashPage checks hashPage against Cannon's CachedPage.MerkleRoot on
// the same page: the root, every cached node and the validity masks must
// be equal, first with cold caches (content from fill, byte by byte at
// fuzzed offsets), then after writes through Cannon's memory have
// invalidated some paths and left the rest of the cache warm.
func FuzzHashPage(f *testing.F) {
	f.Add([]byte{}, []byte{})
	f.Add([]byte{0, 0, 1}, []byte{0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0x0f, 0xff, 0x80, 0x08, 0x00, 0x01}, []byte{1, 0, 0, 0, 0, 0, 0, 0, 7})
	rng := rand.New(rand.NewPCG(1, 2))
	for range 8 {
		fill := make([]byte, 3*(1+rng.IntN(8)))
		for k := range fill {
			fill[k] = byte(rng.Uint32())
		}
		f.Add(fill, fill[:len(fill)/3*3])
	}
	random := make([]byte, 3*PageSize)
	for k := range random {
		random[k] = byte(rng.Uint32())
	}
	f.Add(random, random[:90])
	f.Fuzz(func(t *testing.T, fill, writes []byte) {
		const idx = 5
		ours, cannons := memory.NewMemory(), memory.NewMemory()
		a, b := ours.AllocPage(idx), cannons.AllocPage(idx)
		// fill: (offset u16, byte) triples.
		for ; len(fill) >= 3; fill = fill[3:] {
			off := binary.BigEndian.Uint16(fill) % PageSize
			a.Data[off], b.Data[off] = fill[2], fill[2]
		}
		samePage(t, "cold", a, b)
		// writes: (word u8, value u64) nine-byte records, through Cannon's
		// memory, which invalidates each written word's path.
		for ; len(writes) >= 9; writes = writes[9:] {
			addr := uint64(idx)*PageSize + uint64(writes[0])%(PageSize/8)*8
			v := binary.BigEndian.Uint64(writes[1:])
			ours.SetWord(addr, v)
			cannons.SetWord(addr, v)
		}
		samePage(t, "after writes", a, b)
	})
}

// samePage hashes a with hashPage and b with Cannon and compares the
// results and the caches they leave.
func samePage(t *testing.T, when string, a, b *memory.CachedPage) {
	t.Helper()
	if got, want := hashPage(a), b.MerkleRoot(); got != want {
		t.Fatalf("%s: root %x, Cannon's %x", when, got, want)
	}
	if a.OkLow != b.OkLow || a.OkHigh != b.OkHigh {
		t.Fatalf("%s: valid nodes %016x%016x, Cannon's %016x%016x", when, a.OkHigh, a.OkLow, b.OkHigh, b.OkLow)
	}
	for k := 1; k < len(a.Cache); k++ {
		if a.Cache[k] != b.Cache[k] {
			t.Fatalf("%s: node %d is %x, Cannon's %x", when, k, a.Cache[k], b.Cache[k])
		}
	}
}

// keccakCalls is how many Keccak calls a page's root needs at least: one
// per node whose subtree holds a nonzero byte.
func keccakCalls(data []byte) (calls int, zero bool) {
	if len(data) == 64 {
		if isZero(data) {
			return 0, true
		}
		return 1, false
	}
	l, lz := keccakCalls(data[:len(data)/2])
	r, rz := keccakCalls(data[len(data)/2:])
	if lz && rz {
		return 0, true
	}
	return l + r + 1, false
}

// BenchmarkHashPage times hashPage against Cannon's MerkleRoot (the
// baseline, 127 Keccak calls a page) and against the hasher's floor (the
// Keccak calls the page needs, each timed alone on 64 bytes), alternating
// the three on the same cold pages in one run. Pages: zero, sparse (zero
// but for 1-8 words, as bench snapshot fills them), text-like and random.
func BenchmarkHashPage(b *testing.B) {
	const n = 256
	for _, kind := range []string{"zero", "sparse", "repetitive", "random"} {
		b.Run(kind, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(3, uint64(len(kind))))
			pages := make([]memory.CachedPage, n)
			calls := 0
			for k := range pages {
				p := make([]byte, PageSize)
				switch kind {
				case "sparse":
					for range 1 + rng.IntN(8) {
						binary.BigEndian.PutUint64(p[rng.IntN(PageSize/8)*8:], rng.Uint64()|1)
					}
				case "repetitive":
					for o := 0; o < PageSize; o += 16 {
						copy(p[o:], fmt.Sprintf("page %10d", k))
					}
				case "random":
					for o := range p {
						p[o] = byte(rng.Uint32())
					}
				}
				pages[k].Data = p
				c, _ := keccakCalls(p)
				calls += c
			}
			h := memory.GetHasher()
			defer memory.PutHasher(h)
			block, out := new([64]byte), new([32]byte)
			var ours, cannon, floor time.Duration
			for b.Loop() {
				t0 := time.Now()
				for k := range pages {
					pages[k].InvalidateFull()
					hashPage(&pages[k])
				}
				t1 := time.Now()
				for k := range pages {
					pages[k].InvalidateFull()
					pages[k].MerkleRoot()
				}
				t2 := time.Now()
				for range calls {
					keccak(h, out, block[:], nil)
				}
				t3 := time.Now()
				ours, cannon, floor = ours+t1.Sub(t0), cannon+t2.Sub(t1), floor+t3.Sub(t2)
			}
			per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(b.N*n) }
			b.ReportMetric(float64(calls)/n, "keccak/page")
			b.ReportMetric(per(ours), "ns/page")
			b.ReportMetric(per(cannon), "cannon-ns/page")
			b.ReportMetric(cannon.Seconds()/ours.Seconds(), "speedup-vs-cannon")
			if floor > 0 {
				b.ReportMetric(ours.Seconds()/floor.Seconds(), "ours/floor")
			}
		})
	}
}
