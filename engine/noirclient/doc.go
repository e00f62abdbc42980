// Package noirclient is the typed client of the bb engine's Noir service:
// prove, verify, verifying keys, stats, witness checks and Solidity export
// of Noir (ACIR) circuits over an engine.Conn.
//
// Invariants:
//   - Circuits (ACIR bytecode, gunzipped) and verifying keys travel by
//     digest and are uploaded only when the engine says it lacks them
//     (FAILED_PRECONDITION with MissingArtifacts); witnesses, proofs and
//     public inputs travel in the request.
//   - Proofs and public inputs are bb's own layout (32-byte field elements
//     concatenated, as `bb prove -o` writes proof and public_inputs), and a
//     verifying key is bb's bytes (as `bb write_vk` writes vk), so every
//     file this client's callers write works with the bb CLI.
//   - Every call goes through the debug recorder when $PROOFD_DEBUG_DIR is
//     set, and its command.sh replays the call with the bb CLI itself (not
//     proofd): inputs are written as bb takes them (circuit.json, a minimal
//     program artifact; witness.gz; vk, proof, public_inputs), and only
//     the CRS comes from proofd (`proofd noir crs`), so no recording holds
//     a copy of it.
//   - An invalid proof or an unsatisfied witness is a result, not an error;
//     bad input is an *engine.InputError naming the input.
package noirclient
