// Package rollup is the proving workload of proofd's pipeline demo: a
// simulated chain of real balance transfers with reorgs and finality, and
// three Groth16 circuits that prove it, tx → batch → aggregate.
//
// # Chain
//
// The state is a sparse Merkle tree of accounts (examples/circuits'
// transfer tree: leaf MiMC(id, balance), node MiMC(left, right), on
// BLS12-377's scalar field) of depth Params.Depth. [Genesis] is block 0, a
// fixed funded tree, never proven. [Simulate] returns an [Event] stream: new
// blocks (a reorg when the parent is not the current tip) and Finalize marks.
//
// Invariants of Simulate's output, all tested:
//
//   - it is a pure function of the SimConfig (seed included);
//   - every block has exactly TxsPerBlock valid transfers computed on its
//     own fork's state: the first tx's OldRoot is the parent's root, each
//     tx's NewRoot is the next one's OldRoot, Hash == ComputeHash();
//   - Finalize heights never decrease and trail the tip by FinalityDepth;
//   - a reorg rolls back 1..2 blocks, forks strictly above the finalized
//     height and above genesis, and its branch is at least as long as what
//     it replaced;
//   - the first reorg is a flip A→B→A: after branch B, A's very same blocks
//     (same *Block values, same hashes) are sent again;
//   - the canonical tip ends at height Blocks.
//
// # Encodings
//
// Tx and Block have a fixed big-endian binary form (see tx.go, block.go).
// Decoders are strict (they accept exactly what the encoder produces,
// trailing bytes included, and leave the receiver unchanged on error) and
// bounded: a path holds at most 32 siblings, a block at most 1024 txs, every
// count is checked against the bytes left before anything is allocated, and
// gnark proofs are checked for their commitment count (at most 16) before
// gnark's decoder sees them. Errors name the offending field. Nothing
// panics on input.
//
// # Circuits
//
//   - tx ([CompileTx], BLS12-377): the transfer circuit of
//     examples/circuits at Params.Depth. Public: OldRoot, NewRoot, Amount.
//     Prove with [TxProverOption] so the batch circuit can verify the proof.
//
//   - batch ([CompileBatch], BW6-761): verifies TxsPerBlock tx proofs
//     natively (2-chain recursion, the tx verifying key a circuit constant)
//     and chains their roots: Txs[0].OldRoot == PrevRoot, Txs[i].NewRoot ==
//     Txs[i+1].OldRoot, the last NewRoot == Root. Public: PrevRoot, Root,
//     each required to be a canonical BLS12-377 scalar.
//
//   - aggregate ([CompileAggregate], BN254, so it can be verified on
//     Ethereum): binds BundleSize batches. Public: StartRoot, EndRoot,
//     Commitment. Private per batch: PrevRoot, Root, ProofDigest (sha256 of
//     the batch proof's bytes, first 31 bytes big-endian: [ProofDigest]).
//     Constraints: StartRoot == PrevRoot_0, Root_i == PrevRoot_{i+1},
//     Root_last == EndRoot, Commitment == MiMC-BN254(PrevRoot_0, Root_0,
//     ProofDigest_0, PrevRoot_1, ...) ([AggregateCommitment]).
//
//   - wrap ([CompileWrap], BN254; the evm profile's last stage instead of
//     the aggregate): verifies ONE batch proof in-circuit, the BW6-761
//     pairing emulated in BN254's scalar field (std/recursion/groth16 with
//     sw_bw6761), the batch verifying key a circuit constant. Public:
//     PrevRoot, Root, each required to be a canonical BLS12-377 scalar and
//     passed to the batch verifier as BW6-761 scalars. Batch proofs it
//     verifies are made with [BatchProverOptionForWrap]; its own proofs for
//     gnark's Solidity verifier (commitments hashed with keccak256).
//
// What a wrap proof alone proves: that a batch proof exists, valid under the
// batch verifying key fixed in the wrap circuit, for (PrevRoot, Root); so,
// through the tx verifying key fixed in the batch circuit, that TxsPerBlock
// valid transfers take the state from PrevRoot to Root. It binds no height
// and no block hash: they are in its statement digest only.
//
// What an aggregate proof alone proves: a verifier of the aggregate proof
// alone is convinced only that the prover knows a sequence of BundleSize
// (PrevRoot, Root, ProofDigest) triples, bound by Commitment, whose roots
// chain StartRoot to EndRoot. It says nothing about whether any transition
// is valid. That needs the batch proofs themselves: the verifier obtains
// them, checks that their sha256 digests (truncated to 31 bytes) together
// with the roots open Commitment, and verifies each under the batch
// verifying key with public inputs (PrevRoot_i, Root_i); each batch proof in
// turn attests, under the tx verifying key fixed in the batch circuit, to
// valid transfers from PrevRoot_i to Root_i. Heights are not in the
// aggregate's public inputs; they are in its statement digest.
//
// # Statements
//
// [TxStatement], [BatchStatement] and [AggregateStatement] are
// receipts.StatementDigest over named fields, always including
// Params.Digest(), so a proof made under other params, roots, payload or
// proof bytes never shares a statement.
//
// # Params
//
// Every function applies Params defaults to its copy and rejects invalid
// params with every violation listed. Params.Digest digests the defaulted
// values, so Params{} and the explicit defaults are one configuration.
package rollup
