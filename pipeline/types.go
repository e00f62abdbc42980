package pipeline

import (
	"encoding/hex"
	"fmt"
)

// Hash names a block.
type Hash [32]byte

// String is the hash's first four bytes in hex, enough to tell blocks apart
// in errors and logs.
func (h Hash) String() string { return hex.EncodeToString(h[:4]) }

// Block is what the chain source tells the core about a block: where it sits
// and how many transactions it carries.
type Block struct {
	Height uint64
	Hash   Hash
	Parent Hash
	Txs    int
}

// Checkpoint is a block the chain grows from without being proven by this
// core: genesis, or the last pruned checkpoint after a restart.
type Checkpoint struct {
	Height uint64
	Hash   Hash
}

// Stage is one of the pipeline's three kinds of proof.
type Stage uint8

const (
	StageTx        Stage = iota // one per transaction
	StageBatch                  // one per block, over its tx proofs
	StageAggregate              // one per bundle of BundleSize blocks, over their batch proofs
)

func (s Stage) String() string {
	switch s {
	case StageTx:
		return "tx"
	case StageBatch:
		return "batch"
	case StageAggregate:
		return "aggregate"
	}
	return fmt.Sprintf("stage(%d)", uint8(s))
}

// JobID names one proof by its semantic coordinates. Block is the hash of
// the block the proof is about (for an aggregate, the last block of its
// bundle), so a proof made on one fork can never stand for another; Height
// is that block's height, the checkpoint a receipt is filed and pruned
// under. Index is the transaction's index in its block (zero otherwise).
type JobID struct {
	Stage  Stage
	Height uint64
	Block  Hash
	Index  int
}

func (j JobID) String() string {
	if j.Stage == StageTx {
		return fmt.Sprintf("tx %d of block %s at %d", j.Index, j.Block, j.Height)
	}
	return fmt.Sprintf("%s of block %s at %d", j.Stage, j.Block, j.Height)
}

// Effect is work the shell must carry out after an event: one of Lookup,
// Prove, Store, Publish, Prune or Failed.
type Effect interface{ isEffect() }

// Lookup asks the shell to look the job's proof up in the store and report
// LookupDone.
type Lookup struct{ Job JobID }

// Prove asks the shell to prove the job and report ProveDone. Attempt counts
// from 1; the shell backs off before a retry (Attempt > 1).
type Prove struct {
	Job     JobID
	Attempt int
}

// Store asks the shell to write the job's proof durably and report Stored.
type Store struct{ Job JobID }

// Publish says the job's proof is durable and on the canonical chain: the
// next stage may use it (for an aggregate: it is the bundle's settlement).
type Publish struct{ Job JobID }

// Prune asks the shell to delete every receipt at heights up to Through, on
// every fork: they are finalized and covered by published aggregates.
type Prune struct{ Through uint64 }

// Failed reports a job whose proving failed for good; the blocks that
// depend on it stall until a reorg replaces it.
type Failed struct {
	Job JobID
	Err error
}

func (Lookup) isEffect()  {}
func (Prove) isEffect()   {}
func (Store) isEffect()   {}
func (Publish) isEffect() {}
func (Prune) isEffect()   {}
func (Failed) isEffect()  {}
