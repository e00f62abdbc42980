// Package circuits provides the built-in example circuits of the proofd
// proving service, compiled with gnark and paired with a satisfying witness.
//
// Every example compiles for "groth16" (R1CS, r1cs.NewBuilder) or "plonk"
// (SparseR1CS, scs.NewBuilder). Witnesses are deterministic unless noted.
// Hashing is MiMC: std/hash/mimc in-circuit and gnark-crypto's MiMC for the
// same curve natively, to compute witnesses.
//
// # mimc
//
// Knowledge of a preimage of a MiMC hash chain. Public: Out. Secret: Seed.
// With h0 = Seed and h(i+1) = MiMC(h(i)), the circuit asserts h(size) == Out.
// size is 1..65536; curves bn254, bls12-377 and bw6-761. Constraints grow
// linearly with size (one MiMC permutation per step), which is why benchmarks
// use it to hit a target size: see [SizeForConstraints].
//
// # transfer
//
// A balance transfer as an update of a Merkle tree of accounts of depth size
// (1..32). A leaf is MiMC(accountID, balance), an inner node MiMC(left, right),
// and an empty slot is the leaf of account 0 with balance 0. Public: OldRoot,
// NewRoot, Amount. Secret: for the sender and the receiver, the leaf index as
// path bits, the account ID, the balance before the transfer and the Merkle
// path. The circuit enforces:
//
//   - Amount, both old balances and both new balances fit in 64 bits, hence
//     the sender's balance is at least Amount and no balance wraps around;
//   - the sender and receiver indices differ;
//   - the sender's leaf opens to OldRoot;
//   - the receiver's leaf opens, with its own path, to the intermediate root
//     obtained by debiting the sender (so the two paths may share nodes);
//   - crediting the receiver along that path yields NewRoot.
//
// The witness uses a fixed sparse tree (only set leaves and their ancestors
// are stored, the rest are precomputed empty-subtree hashes, so depth 32 is
// as cheap as depth 1): the last leaf pays 300 to leaf 0. Curves as for mimc.
//
// # recursive
//
// A Groth16 proof verified inside a circuit. The inner circuit is the mimc
// chain of length size (1..65536) on BLS12-377; the outer circuit runs on
// BW6-761, whose scalar field is BLS12-377's base field, so the pairing is
// computed natively (std/recursion/groth16 with sw_bls12377 types). Public:
// Out, the inner chain's output, which is the inner proof's only public input;
// the circuit requires Out < r(BLS12-377) so it has one encoding. Secret: the
// inner proof. The inner verifying key is a circuit constant
// (ValueOfVerifyingKeyFixed, field tagged gnark:"-"), not part of the
// witness: the outer proof thus attests to this inner circuit and setup only.
// Build runs the inner Groth16 setup and proof itself; setup is randomized,
// so every Build yields a different constraint system and witness. The outer
// circuit's size does not depend on size. Only curve bw6-761 is accepted.
package circuits
