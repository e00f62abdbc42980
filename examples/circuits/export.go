package circuits

import (
	"fmt"
	"math/big"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/frontend"
)

// This file exports the transfer circuit and its native helpers so other
// examples (examples/rollup) reuse them instead of duplicating them.

// MaxTransferDepth is the deepest balance tree the transfer circuit supports.
const MaxTransferDepth = 32

// Hasher is gnark-crypto's native MiMC for one curve; it agrees with
// std/hash/mimc in-circuit (Write(xs...); Sum()).
type Hasher struct{ h *hasher }

// NewHasher returns the native MiMC of curve (bn254, bls12-377 or bw6-761).
func NewHasher(curve ecc.ID) (*Hasher, error) {
	h, err := newHasher(curve)
	if err != nil {
		return nil, err
	}
	return &Hasher{h}, nil
}

// Sum hashes xs, each reduced modulo the curve's scalar field, as field
// elements from the zero state.
func (h *Hasher) Sum(xs ...*big.Int) *big.Int { return h.h.sum(xs...) }

// Tree is the transfer circuit's sparse Merkle tree: a leaf is
// MiMC(id, balance), an inner node MiMC(left, right), an empty slot the leaf
// of account 0 with balance 0.
type Tree struct{ t *tree }

// NewTree returns an empty tree of depth 1..MaxTransferDepth.
func NewTree(h *Hasher, depth int) (*Tree, error) {
	if depth < 1 || depth > MaxTransferDepth {
		return nil, fmt.Errorf("tree depth %d out of range 1..%d", depth, MaxTransferDepth)
	}
	return &Tree{newTree(h.h, depth)}, nil
}

// Depth is the tree's depth.
func (t *Tree) Depth() int { return len(t.t.nodes) - 1 }

// SetAccount sets leaf i to MiMC(id, balance).
func (t *Tree) SetAccount(i uint64, id, balance *big.Int) error {
	if i>>t.Depth() != 0 {
		return fmt.Errorf("leaf index %d out of range for depth %d", i, t.Depth())
	}
	t.t.set(i, t.t.h.sum(id, balance))
	return nil
}

// Root is the tree's root.
func (t *Tree) Root() *big.Int { return t.t.root() }

// Path returns the siblings of leaf i, leaf level first.
func (t *Tree) Path(i uint64) ([]*big.Int, error) {
	if i>>t.Depth() != 0 {
		return nil, fmt.Errorf("leaf index %d out of range for depth %d", i, t.Depth())
	}
	return t.t.path(i), nil
}

// TransferCircuit returns the transfer circuit of the given depth, ready to
// compile (public inputs, in order: OldRoot, NewRoot, Amount).
func TransferCircuit(depth int) (frontend.Circuit, error) {
	if depth < 1 || depth > MaxTransferDepth {
		return nil, fmt.Errorf("transfer depth %d out of range 1..%d", depth, MaxTransferDepth)
	}
	return newTransfer(depth), nil
}

// TransferOpening is one party of a transfer: its leaf index, account id,
// balance before the transfer and Merkle path (siblings, leaf level first).
type TransferOpening struct {
	Index       uint64
	ID, Balance *big.Int
	Path        []*big.Int
}

// TransferAssignment is the transfer circuit's assignment for the given
// values. The depth is len(sender.Path); it checks only the shape (depth,
// indices in range), not that the transfer is valid.
func TransferAssignment(oldRoot, newRoot, amount *big.Int, sender, receiver TransferOpening) (frontend.Circuit, error) {
	depth := len(sender.Path)
	if depth < 1 || depth > MaxTransferDepth {
		return nil, fmt.Errorf("sender path length %d out of range 1..%d", depth, MaxTransferDepth)
	}
	if len(receiver.Path) != depth {
		return nil, fmt.Errorf("receiver path length %d, want %d like the sender's", len(receiver.Path), depth)
	}
	a := newTransfer(depth)
	a.OldRoot, a.NewRoot, a.Amount = oldRoot, newRoot, amount
	for _, p := range []struct {
		name string
		o    TransferOpening
		w    *account
	}{{"sender", sender, &a.Sender}, {"receiver", receiver, &a.Receiver}} {
		if p.o.Index>>depth != 0 {
			return nil, fmt.Errorf("%s index %d out of range for depth %d", p.name, p.o.Index, depth)
		}
		p.w.ID, p.w.Balance = p.o.ID, p.o.Balance
		for l := range depth {
			p.w.Index[l] = (p.o.Index >> l) & 1
			p.w.Path[l] = p.o.Path[l]
		}
	}
	return a, nil
}
