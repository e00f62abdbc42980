// Package snark is the gnark engine: Groth16 and PLONK on BN254, BLS12-377
// and BW6-761, served over the engine protocol.
//
// Inputs are gnark's own encodings: constraint systems (ccs.WriteTo),
// witnesses (witness.MarshalBinary), keys and proofs (WriteTo). The curve and
// scheme of a constraint system are read from its header; those of a
// verifying key are found by decoding it.
//
// Invariants:
//   - Every decoder checks lengths against the bytes it was given before
//     gnark allocates, and runs gnark's own decoder under recover: bad bytes
//     give a BadInput status naming the input, never a crash.
//   - Decoded circuits and keys stay resident next to their bytes in the
//     artifact store, keyed by digest; a proving key is decoded without
//     subgroup checks (UnsafeReadFrom) only because its digest was checked on
//     upload or it was made here, a verifying key always with them.
//   - One heavy operation (setup, prove) runs at a time per process: gnark
//     uses every core for one proof, and gnark's stage timings are read from
//     its process-wide logger, which must not interleave two proofs.
//   - gnark's logger never writes to stdout (the announce line's channel).
//   - Prove and Verify apply the request's proof target (target.go): the
//     hash-to-field options of gnark's Solidity verifier or of an
//     in-circuit verifier on BN254 or BW6-761. A target that does not fit
//     the key's scheme and curve is a BadInput naming "target", checked
//     before any proving work.
package snark
