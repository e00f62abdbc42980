package snapshot

import (
	"bytes"
	"cmp"
	"slices"
	"sort"

	"github.com/ethereum-optimism/optimism/cannon/mipsevm/memory"
	"github.com/ethereum/go-ethereum/crypto"
)

// zeroHashes[h] is the root of an all-zero subtree with 2^h 32-byte leaves,
// as Cannon's memory package computes it (a page is a subtree of height 7).
var zeroHashes = func() (z [memory.MemProofLeafCount][32]byte) {
	for h := 1; h < len(z); h++ {
		z[h] = memory.HashPair(z[h-1], z[h-1])
	}
	return z
}()

const pageHeight = 7 // log2(PageSize / 32)

// pageRoot is a page's Merkle root as Cannon computes it, using scratch as
// Cannon's per-page node cache.
func pageRoot(scratch *memory.CachedPage, data []byte) [32]byte {
	scratch.Data = data
	scratch.InvalidateFull()
	return hashPage(scratch)
}

// hashPage is p.MerkleRoot(): it leaves p's node cache filled and marked
// valid exactly as Cannon's would be, and keeps the nodes already valid.
// But the root of an all-zero subtree is a constant (zeroHashes), so it
// hashes only the nodes above a nonzero byte: a page that is zero but for
// a few words costs a few dozen Keccak calls instead of Cannon's 127.
func hashPage(p *memory.CachedPage) [32]byte {
	h := memory.GetHasher()
	defer memory.PutHasher(h)
	hashNode(h, p, 1, pageHeight)
	return p.Cache[1]
}

// hashNode fills node k of p's cache: k is Cannon's generalized index
// (1 the root, 64..127 the 64-byte leaves) and height its height in
// 32-byte leaves. It hashes from and into p's cache, never from locals,
// so that nothing escapes to the heap through the hasher's interface.
func hashNode(h crypto.KeccakState, p *memory.CachedPage, k uint64, height int) {
	var low, high uint64 // k's bit in Cannon's validity masks
	if k < 64 {
		low = 1 << k
	} else {
		high = 1 << (k - 64)
	}
	if p.OkLow&low|p.OkHigh&high != 0 {
		return
	}
	out := &p.Cache[k]
	if k >= PageSize/64 {
		leaf := p.Data[(k-PageSize/64)*64:][:64]
		if isZero(leaf) {
			*out = zeroHashes[1]
		} else {
			keccak(h, out, leaf, nil)
		}
	} else {
		hashNode(h, p, 2*k, height-1)
		hashNode(h, p, 2*k+1, height-1)
		l, r := &p.Cache[2*k], &p.Cache[2*k+1]
		if *l == zeroHashes[height-1] && *r == zeroHashes[height-1] {
			*out = zeroHashes[height]
		} else {
			keccak(h, out, l[:], r[:])
		}
	}
	p.OkLow |= low
	p.OkHigh |= high
}

// keccak sets out to the Keccak-256 of a then b.
func keccak(h crypto.KeccakState, out *[32]byte, a, b []byte) {
	h.Reset()
	h.Write(a)
	h.Write(b)
	h.Read(out[:])
}

// zeroLeaf is a leaf of zeros, for isZero's vectorized comparison.
var zeroLeaf [64]byte

// isZero reports whether a 64-byte leaf is all zero.
func isZero(leaf []byte) bool { return bytes.Equal(leaf, zeroLeaf[:]) }

// sortOrder returns the positions 0..n-1 sorted by key (nil when they
// already are, the usual case) and the later position of a duplicate key, or -1.
func sortOrder(n int, key func(int) uint64) (order []int, dup int) {
	sorted := true
	for k := 1; k < n; k++ {
		if key(k) <= key(k-1) {
			sorted = false
			break
		}
	}
	if sorted {
		return nil, -1
	}
	order = make([]int, n)
	for k := range order {
		order[k] = k
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(key(a), key(b)) })
	for k := 1; k < n; k++ {
		if key(order[k]) == key(order[k-1]) {
			return nil, max(order[k], order[k-1])
		}
	}
	return order, -1
}

// sortedPages views pages in page-index order without copying them.
type sortedPages struct {
	pages []pageEntry
	order []int // nil: pages are already sorted
}

func (s sortedPages) at(k int) *pageEntry {
	if s.order == nil {
		return &s.pages[k]
	}
	return &s.pages[s.order[k]]
}

// find returns the storage position of the page with index idx.
func (s sortedPages) find(idx uint64) (int, bool) {
	lo := sort.Search(len(s.pages), func(k int) bool { return s.at(k).index >= idx })
	if lo == len(s.pages) || s.at(lo).index != idx {
		return 0, false
	}
	if s.order == nil {
		return lo, true
	}
	return s.order[lo], true
}

// memoryRoot folds page roots into the root of Cannon's memory tree: a
// binary tree over 2^52 page slots in which an absent page is a zero page.
// Only subtrees that hold a page are hashed, so the cost is about two hashes
// per page plus one per level above the densest region.
func memoryRoot(s sortedPages) [32]byte {
	return s.fold(0, len(s.pages), memory.PageKeySize)
}

// fold returns the root of the subtree of height h (in pages) whose pages
// are sorted positions [lo, hi); all of them share the bits above h.
func (s sortedPages) fold(lo, hi, h int) [32]byte {
	if lo == hi {
		return zeroHashes[h+pageHeight]
	}
	if h == 0 {
		return s.at(lo).root
	}
	bit := uint64(1) << (h - 1)
	mid := lo + sort.Search(hi-lo, func(k int) bool { return s.at(lo+k).index&bit != 0 })
	return memory.HashPair(s.fold(lo, mid, h-1), s.fold(mid, hi, h-1))
}
