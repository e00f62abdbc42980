package rollup

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/consensys/gnark-crypto/ecc"

	"github.com/proofd/proofd/examples/circuits"
)

// Simulation bounds and defaults.
const (
	DefaultBlocks = 8
	DefaultReorgs = 2
	MaxBlocks     = 1 << 16
	MaxReorgs     = 1 << 16
	// maxRollback is the most blocks a reorg replaces.
	maxRollback = 2
	// maxAmount bounds one simulated transfer.
	maxAmount = 500
)

// SimConfig configures Simulate. Zero fields take their defaults.
type SimConfig struct {
	Params
	Seed          int64
	Blocks        int // height of the canonical tip at the end (default 8, 1..65536)
	Reorgs        int // how many reorgs happen (default 2, negative for none); the first is a flip A→B→A
	FinalityDepth int // Finalize events trail the tip by this many blocks (default 2*BundleSize)
}

// Event is one step of the simulated chain.
type Event struct {
	Block    *Block // a block to add (a reorg when its parent is not the current tip), or nil
	Finalize uint64 // when Block is nil: the chain is final up to this height
}

// checkedSim is cfg with defaults applied, or every violation.
func checkedSim(cfg SimConfig) (SimConfig, error) {
	var errs []error
	p, err := checked(cfg.Params)
	if err != nil {
		errs = append(errs, err)
	}
	cfg.Params = p
	if cfg.Blocks == 0 {
		cfg.Blocks = DefaultBlocks
	}
	switch {
	case cfg.Reorgs == 0:
		cfg.Reorgs = DefaultReorgs
	case cfg.Reorgs < 0:
		cfg.Reorgs = 0
	}
	if cfg.FinalityDepth == 0 {
		cfg.FinalityDepth = 2 * cfg.BundleSize
	}
	if cfg.Blocks < 1 || cfg.Blocks > MaxBlocks {
		errs = append(errs, fmt.Errorf("rollup sim: Blocks %d out of range 1..%d", cfg.Blocks, MaxBlocks))
	}
	if cfg.Reorgs > MaxReorgs {
		errs = append(errs, fmt.Errorf("rollup sim: Reorgs %d above %d", cfg.Reorgs, MaxReorgs))
	}
	if cfg.FinalityDepth < 1 {
		errs = append(errs, fmt.Errorf("rollup sim: FinalityDepth %d below 1", cfg.FinalityDepth))
	}
	if cfg.Reorgs > 0 {
		// A reorg forks at height >= 1 above finality, rolling back >= 1 block.
		if cfg.Blocks < 2 {
			errs = append(errs, fmt.Errorf("rollup sim: Blocks %d leaves no room for reorgs (want >= 2)", cfg.Blocks))
		}
		if cfg.FinalityDepth < 2 {
			errs = append(errs, fmt.Errorf("rollup sim: FinalityDepth %d leaves no room for reorgs (want >= 2)", cfg.FinalityDepth))
		}
	}
	return cfg, errors.Join(errs...)
}

// node is a block with the state after it; the genesis node has no block.
type node struct {
	block  *Block
	hash   [32]byte
	height uint64
	st     *state
}

type sim struct {
	cfg       SimConfig
	rng       *rand.Rand
	h         *circuits.Hasher
	chain     []*node // the canonical chain, chain[i] at height i
	nonce     uint64
	finalized uint64
	events    []Event
}

// Simulate produces the event stream of a chain that ends with its tip at
// height cfg.Blocks. It is deterministic for a config. Each block holds
// exactly TxsPerBlock real, valid transfers on its own fork's state. Reorgs
// happen at evenly spread tip heights: each rolls back 1..2 blocks, forking
// above the finalized height and above genesis, and builds an alternative
// branch at least as long. The first is a flip: branch B (as long as A)
// replaces A, then A's very same *Block values are sent again.
func Simulate(cfg SimConfig) ([]Event, error) {
	cfg, err := checkedSim(cfg)
	if err != nil {
		return nil, err
	}
	h, err := circuits.NewHasher(ecc.BLS12_377)
	if err != nil {
		return nil, err
	}
	s := &sim{cfg: cfg, rng: rand.New(rand.NewPCG(uint64(cfg.Seed), 0x70726f6f6664)), h: h}
	g := genesisState(cfg.Depth)
	t, err := g.tree(h)
	if err != nil {
		return nil, err
	}
	s.chain = []*node{{hash: genesisHash(cfg.Params, rootOf(t.Root())), st: g}}

	// Reorg i happens once the tip reaches at[i].
	at := make([]uint64, cfg.Reorgs)
	for i := range at {
		at[i] = 2 + uint64((i+1)*(cfg.Blocks-2)/cfg.Reorgs)
	}
	next := 0
	for {
		for next < len(at) && s.tip().height >= at[next] {
			if err := s.reorg(next == 0); err != nil {
				return nil, err
			}
			next++
		}
		if s.tip().height >= uint64(cfg.Blocks) {
			return s.events, nil
		}
		if err := s.extend(); err != nil {
			return nil, err
		}
	}
}

func (s *sim) tip() *node { return s.chain[len(s.chain)-1] }

// extend adds a fresh block on the tip and finalizes what trails it.
func (s *sim) extend() error {
	n, err := s.newBlock(s.tip())
	if err != nil {
		return err
	}
	s.push(n)
	if d := uint64(s.cfg.FinalityDepth); n.height > d && n.height-d > s.finalized {
		s.finalized = n.height - d
		s.events = append(s.events, Event{Finalize: s.finalized})
	}
	return nil
}

func (s *sim) push(n *node) {
	s.chain = append(s.chain, n)
	s.events = append(s.events, Event{Block: n.block})
}

// reorg rolls back k blocks and builds a branch of k (flip, or no room
// left) or k+1 blocks; a flip then restores the rolled-back blocks.
func (s *sim) reorg(flip bool) error {
	h := s.tip().height
	maxK := min(uint64(maxRollback), uint64(s.cfg.FinalityDepth-1), h-1)
	if maxK < 1 {
		return fmt.Errorf("rollup sim: no room to reorg at height %d", h)
	}
	k := 1 + s.rng.Uint64N(maxK)
	fork := h - k
	if fork <= s.finalized || fork < 1 {
		return fmt.Errorf("rollup sim: reorg at height %d would fork at %d, finalized %d", h, fork, s.finalized)
	}
	old := append([]*node(nil), s.chain[fork+1:]...)
	s.chain = s.chain[:fork+1]
	length := k
	if !flip && h < uint64(s.cfg.Blocks) {
		length += s.rng.Uint64N(2)
	}
	for range length {
		if err := s.extend(); err != nil {
			return err
		}
	}
	if flip {
		s.chain = s.chain[:fork+1]
		for _, n := range old {
			s.push(n)
		}
	}
	return nil
}

// newBlock builds a block on parent with TxsPerBlock random valid
// transfers between funded accounts of parent's state.
func (s *sim) newBlock(parent *node) (*node, error) {
	st := parent.st.clone()
	t, err := st.tree(s.h)
	if err != nil {
		return nil, err
	}
	b := &Block{Height: parent.height + 1, Parent: parent.hash, Nonce: s.nonce}
	s.nonce++
	for range s.cfg.TxsPerBlock {
		idx := st.indices()
		var funded []uint64
		for _, i := range idx {
			if st.accounts[i].balance > 0 {
				funded = append(funded, i)
			}
		}
		// Balances are conserved and positive in total, and genesis funds
		// at least two accounts, so both choices exist.
		from := funded[s.rng.IntN(len(funded))]
		j := s.rng.IntN(len(idx) - 1) // any funded-or-not account but the sender
		if j >= slices.Index(idx, from) {
			j++
		}
		to := idx[j]
		amount := 1 + s.rng.Uint64N(min(st.accounts[from].balance, maxAmount))
		tx, err := st.transfer(t, from, to, amount)
		if err != nil {
			return nil, fmt.Errorf("rollup sim: block %d: %w", b.Height, err)
		}
		b.Txs = append(b.Txs, tx)
	}
	b.Hash = b.ComputeHash()
	return &node{block: b, hash: b.Hash, height: b.Height, st: st}, nil
}
