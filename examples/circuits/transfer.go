package circuits

import (
	"math/big"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/std/hash/mimc"
)

// balanceBits bounds every balance and the amount, so balance arithmetic can
// never wrap around the field.
const balanceBits = 64

// transfer proves that moving Amount from one leaf of the balance tree to
// another turns OldRoot into NewRoot.
type transfer struct {
	OldRoot frontend.Variable `gnark:",public"`
	NewRoot frontend.Variable `gnark:",public"`
	Amount  frontend.Variable `gnark:",public"`

	Sender   account
	Receiver account
}

// account is a leaf of the balance tree with its Merkle opening.
type account struct {
	Index   []frontend.Variable // leaf index bits, LSB first (leaf level first)
	ID      frontend.Variable
	Balance frontend.Variable   // balance before the transfer
	Path    []frontend.Variable // siblings, leaf level first
}

func newTransfer(depth int) *transfer {
	acc := func() account {
		return account{Index: make([]frontend.Variable, depth), Path: make([]frontend.Variable, depth)}
	}
	return &transfer{Sender: acc(), Receiver: acc()}
}

func (c *transfer) Define(api frontend.API) error {
	h, err := mimc.NewMiMC(api)
	if err != nil {
		return err
	}
	hash := func(xs ...frontend.Variable) frontend.Variable {
		h.Reset()
		h.Write(xs...)
		return h.Sum()
	}
	root := func(a account, balance frontend.Variable) frontend.Variable {
		node := hash(a.ID, balance)
		for i, sib := range a.Path {
			// bit=1: node is the right child. One multiplication swaps both.
			api.AssertIsBoolean(a.Index[i])
			d := api.Mul(a.Index[i], api.Sub(sib, node))
			node = hash(api.Add(node, d), api.Sub(sib, d))
		}
		return node
	}
	inRange := func(v frontend.Variable) { api.ToBinary(v, balanceBits) }

	inRange(c.Amount)
	inRange(c.Sender.Balance)
	inRange(c.Receiver.Balance)
	debited := api.Sub(c.Sender.Balance, c.Amount)
	credited := api.Add(c.Receiver.Balance, c.Amount)
	inRange(debited)  // fails unless Sender.Balance >= Amount
	inRange(credited) // the receiver cannot overflow

	// Index bits are boolean and at most 32, so the recomposition is unique.
	api.AssertIsDifferent(api.FromBinary(c.Sender.Index...), api.FromBinary(c.Receiver.Index...))

	api.AssertIsEqual(root(c.Sender, c.Sender.Balance), c.OldRoot)
	mid := root(c.Sender, debited)
	api.AssertIsEqual(root(c.Receiver, c.Receiver.Balance), mid)
	api.AssertIsEqual(root(c.Receiver, credited), c.NewRoot)
	return nil
}

// leaf is an account as stored in the tree, hashed as MiMC(id, balance).
type leaf struct{ id, balance *big.Int }

func transferExample(depth int, curve ecc.ID) (frontend.Circuit, frontend.Circuit, error) {
	h, err := newHasher(curve)
	if err != nil {
		return nil, nil, err
	}
	// The fixed scenario: the last leaf pays 300 to the first.
	last := uint64(1)<<depth - 1
	return newTransfer(depth), transferAssignment(h, depth, last, 0, big.NewInt(300)), nil
}

// transferAssignment builds the fixed balance tree and the witness for moving
// amount from leaf `from` to leaf `to`. It does not check the transfer is
// valid, so tests can build witnesses the circuit must reject.
func transferAssignment(h *hasher, depth int, from, to uint64, amount *big.Int) *transfer {
	accounts := map[uint64]leaf{
		0:                    {big.NewInt(1001), big.NewInt(500)},
		uint64(1)<<depth - 1: {big.NewInt(1002), big.NewInt(1000)},
	}
	if depth > 1 { // a bystander, so the tree is more than the two parties
		accounts[1] = leaf{big.NewInt(1003), big.NewInt(250)}
	}
	t := newTree(h, depth)
	for i, acc := range accounts {
		t.set(i, h.sum(acc.id, acc.balance))
	}

	a := newTransfer(depth)
	a.OldRoot, a.Amount = t.root(), amount
	// update opens leaf i into w, then applies delta to its balance.
	update := func(w *account, i uint64, delta *big.Int) {
		acc, ok := accounts[i]
		if !ok { // an empty slot is account 0 with balance 0
			acc = leaf{big.NewInt(0), big.NewInt(0)}
		}
		w.ID, w.Balance = acc.id, acc.balance
		for l, sib := range t.path(i) {
			w.Index[l] = (i >> l) & 1
			w.Path[l] = sib
		}
		acc.balance = new(big.Int).Add(acc.balance, delta)
		accounts[i] = acc
		t.set(i, h.sum(acc.id, acc.balance))
	}
	update(&a.Sender, from, new(big.Int).Neg(amount))
	update(&a.Receiver, to, amount)
	a.NewRoot = t.root()
	return a
}

// tree is a sparse Merkle tree: only nodes above set leaves are stored, the
// rest are roots of empty subtrees, so depth 32 costs depth hashes per update.
type tree struct {
	h     *hasher
	empty []*big.Int            // empty[l]: root of an all-empty subtree of height l
	nodes []map[uint64]*big.Int // nodes[l][i]: node i at height l (0 = leaves)
}

func newTree(h *hasher, depth int) *tree {
	t := &tree{h: h, empty: make([]*big.Int, depth+1), nodes: make([]map[uint64]*big.Int, depth+1)}
	// An empty slot is the leaf of account 0 with balance 0, so a fresh
	// account needs no special case in the circuit.
	t.empty[0] = h.sum(big.NewInt(0), big.NewInt(0))
	for l := range t.nodes {
		t.nodes[l] = map[uint64]*big.Int{}
		if l > 0 {
			t.empty[l] = h.sum(t.empty[l-1], t.empty[l-1])
		}
	}
	return t
}

func (t *tree) node(l int, i uint64) *big.Int {
	if v, ok := t.nodes[l][i]; ok {
		return v
	}
	return t.empty[l]
}

func (t *tree) set(i uint64, leaf *big.Int) {
	t.nodes[0][i] = leaf
	for l := 1; l < len(t.nodes); l++ {
		i >>= 1
		t.nodes[l][i] = t.h.sum(t.node(l-1, 2*i), t.node(l-1, 2*i+1))
	}
}

func (t *tree) root() *big.Int { return t.node(len(t.nodes)-1, 0) }

// path returns the siblings of leaf i, leaf level first.
func (t *tree) path(i uint64) []*big.Int {
	p := make([]*big.Int, len(t.nodes)-1)
	for l := range p {
		p[l] = t.node(l, (i>>l)^1)
	}
	return p
}
