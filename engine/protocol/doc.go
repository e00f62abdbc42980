// Package protocol holds what both sides of the engine protocol must agree
// on outside the generated schema (proto/enginev1): the protocol version, the
// announce line an engine writes on stdout once it listens, and the default
// message bound. The client (engine) and the server (engine/host) both import
// it; neither imports the other.
//
// Invariants:
//   - The announce line is exactly proofd-engine|VERSION|unix|PATH|grpc; a
//     line of any other shape is rejected, never guessed at.
//   - Version changes only with an incompatible change to the schema; adding
//     fields or RPCs keeps it.
package protocol
