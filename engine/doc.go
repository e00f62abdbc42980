// Package engine is the transport of the proofd engine protocol, client
// side: it starts engine processes (Spawn), connects to them (Dial,
// DialUnix, InProcess), negotiates the protocol version, moves artifacts by
// digest, records calls for replay, and classifies errors. The typed calls
// live in engine/snarkclient and engine/vmclient; pooling lives in
// engine/pool. It does not import the server (engine/host): what both sides
// share is in engine/protocol.
//
// Invariants:
//   - A spawned engine is connected to only after it has announced its socket
//     on stdout; the announce wait fails at once if the process exits, and
//     has a backstop timeout otherwise.
//   - Spawned engines run in their own process group, get SIGKILL when the
//     thread that started them dies with the parent (Pdeathsig, from a locked
//     OS thread: golang/go#27505), and exit when their stdin closes. Close
//     kills the whole group if a graceful shutdown does not finish.
//   - Large inputs travel by digest; bytes are uploaded only when the engine
//     reports them missing, then the call is retried once.
//   - Errors caused by bad input are *InputError and never retryable; errors
//     caused by a dead or unreachable engine are marked retryable.
package engine
