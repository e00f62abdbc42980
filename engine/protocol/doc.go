// Package protocol holds what both sides of the engine protocol must agree
// on outside the generated schema (proto/enginev1): the protocol version, the
// announce line an engine writes on stdout once it listens, and the default
// message bound. The client (engine) and the server (engine/host) both import
// it; neither imports the other.
//
// Invariants:
//   - The announce line is exactly proofd-engine|VERSION|unix|PATH|grpc or
//     proofd-engine|VERSION|tcp|HOST:PORT|grpc (a real port, never 0); a
//     line of any other shape is rejected, never guessed at.
//   - Network tcp always means gRPC over mutual TLS (TLS 1.3, client
//     certificate required); there is no insecure TCP engine.
//   - Version changes only with an incompatible change to the schema; adding
//     fields or RPCs keeps it.
package protocol
