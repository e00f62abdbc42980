package rollup

import (
	"crypto/sha256"
	"fmt"
	"math/big"
	"slices"

	"github.com/consensys/gnark-crypto/ecc"

	"github.com/proofd/proofd/examples/circuits"
)

// genesisAccounts is how many accounts the genesis tree funds (fewer when
// the tree has fewer leaves).
const genesisAccounts = 16

// account is a funded leaf of the balance tree.
type account struct{ id, balance uint64 }

// state is one fork's balance tree as its accounts, keyed by leaf index.
// Every other leaf is empty (account 0, balance 0).
type state struct {
	depth    int
	accounts map[uint64]account
}

// genesisState funds min(16, 2^depth) accounts spread evenly over the
// leaves: account i has id 1001+i and balance 1000·(i+1).
func genesisState(depth int) *state {
	leaves := uint64(1) << depth
	n := min(uint64(genesisAccounts), leaves)
	stride := leaves / n
	s := &state{depth: depth, accounts: map[uint64]account{}}
	for i := range n {
		s.accounts[i*stride] = account{id: 1001 + i, balance: 1000 * (i + 1)}
	}
	return s
}

func (s *state) clone() *state {
	c := &state{depth: s.depth, accounts: make(map[uint64]account, len(s.accounts))}
	for i, a := range s.accounts {
		c.accounts[i] = a
	}
	return c
}

// indices lists the funded leaves in order, so choices are deterministic.
func (s *state) indices() []uint64 {
	idx := make([]uint64, 0, len(s.accounts))
	for i := range s.accounts {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	return idx
}

// tree builds s's Merkle tree.
func (s *state) tree(h *circuits.Hasher) (*circuits.Tree, error) {
	t, err := circuits.NewTree(h, s.depth)
	if err != nil {
		return nil, err
	}
	for _, i := range s.indices() {
		a := s.accounts[i]
		if err := t.SetAccount(i, new(big.Int).SetUint64(a.id), new(big.Int).SetUint64(a.balance)); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// transfer applies a transfer of amount from leaf `from` to leaf `to` to s
// and t (s's tree) and returns the Tx proving it. It refuses an invalid one.
func (s *state) transfer(t *circuits.Tree, from, to, amount uint64) (Tx, error) {
	src, dst := s.accounts[from], s.accounts[to]
	if from == to || src.balance < amount || dst.balance+amount < dst.balance {
		return Tx{}, fmt.Errorf("invalid transfer of %d from leaf %d to %d", amount, from, to)
	}
	tx := Tx{OldRoot: rootOf(t.Root()), Amount: amount}
	open := func(o *Opening, i uint64, a account, after uint64) error {
		path, err := t.Path(i)
		if err != nil {
			return err
		}
		*o = Opening{Index: i, ID: a.id, Balance: a.balance, Path: make([]Root, len(path))}
		for l, sib := range path {
			o.Path[l] = rootOf(sib)
		}
		a.balance = after
		s.accounts[i] = a
		return t.SetAccount(i, new(big.Int).SetUint64(a.id), new(big.Int).SetUint64(after))
	}
	if err := open(&tx.Sender, from, src, src.balance-amount); err != nil {
		return Tx{}, err
	}
	if err := open(&tx.Receiver, to, dst, dst.balance+amount); err != nil {
		return Tx{}, err
	}
	tx.NewRoot = rootOf(t.Root())
	return tx, nil
}

// genesisDomain separates the genesis hash from every other SHA-256 use.
const genesisDomain = "proofd/rollup/genesis/v1"

// Genesis is the chain's block 0: the fixed funded balance tree (min(16,
// 2^Depth) accounts, ids 1001.., balances 1000, 2000, ...), not proven. Its
// hash is SHA-256 over a domain tag, p.Digest() and the root. Params are
// defaulted; for invalid params both results are zero.
func Genesis(p Params) (hash [32]byte, root Root) {
	p, err := checked(p)
	if err != nil {
		return hash, root
	}
	h, err := circuits.NewHasher(ecc.BLS12_377)
	if err != nil {
		return hash, root
	}
	t, err := genesisState(p.Depth).tree(h)
	if err != nil {
		return hash, root
	}
	return genesisHash(p, rootOf(t.Root())), rootOf(t.Root())
}

func genesisHash(p Params, root Root) [32]byte {
	d := p.Digest()
	hh := sha256.New()
	hh.Write([]byte(genesisDomain))
	hh.Write(d[:])
	hh.Write(root[:])
	var out [32]byte
	hh.Sum(out[:0])
	return out
}
