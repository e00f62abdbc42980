// Package bbengine is the bb engine: the proofd engine protocol's Noir
// service (proto/enginev1) in front of one `bb msgpack run` child (Aztec's
// barretenberg, driven through bb/bbapi over its stdin and stdout: no
// socket file for bb, so no bind/listen race). `proofd engine serve --kind
// bb` runs it.
//
// Invariants:
//   - One bb child per engine, started with the engine and given its own
//     copy of the embedded CRS (bb/crs) in a private directory removed at
//     stop. bb works one request at a time; calls queue (bbapi.Process).
//   - A bb death is the engine's death: Died is closed and the engine's
//     process exits, so a pool sees a dead engine and respawns it; the call
//     that was out fails UNAVAILABLE. bb is never restarted behind the
//     pool's back.
//   - bb cannot be interrupted: a call whose context ends while bb works
//     on it kills bb (bbapi), and with it the engine. A client that gives
//     up on a call costs its pool a respawn.
//   - A CRS directory is named for its engine's pid; an engine removes, at
//     start, those of this user's engines that no longer exist (a SIGKILLed
//     engine cannot remove its own).
//   - Circuits (ACIR bytecode) and verifying keys are artifacts: clients
//     name them by digest, the store holds them under the budget. A key bb
//     computes is put in the store, and its digest returned.
//   - A circuit whose dyadic size exceeds what the CRS serves is refused
//     (BadInput "circuit") before bb proves or keys it: bb would otherwise
//     try to download points and fail after seconds. A circuit's stats are
//     computed once and kept as its decoded form.
//   - bb's ErrorResponse is bad input and names it: a circuit bb cannot
//     read is "circuit" (found by Stats, before anything else), then a
//     failed prove is "witness". In Verify the proof is what is judged: an
//     ErrorResponse or a malformed proof is valid=false with the reason.
//   - Proofs and public inputs are bb's 32-byte field elements
//     concatenated; a length that is not a multiple of 32 is refused.
package bbengine
