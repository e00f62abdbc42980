// Package snarkclient is the typed client of the SNARK engine (snark): setup,
// prove, verify, stats, check and Solidity export over an engine.Conn.
//
// Invariants:
//   - Large inputs (constraint systems, keys, SRS) travel by digest and are
//     uploaded only when the engine says it lacks them.
//   - Every call goes through the debug recorder when $PROOFD_DEBUG_DIR is
//     set; its command.sh replays the call with the proofd CLI.
//   - An invalid proof or an unsatisfied witness is a result, not an error;
//     bad input is an *engine.InputError naming the input.
package snarkclient
