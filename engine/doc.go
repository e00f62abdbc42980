// Package engine is the transport of the proofd engine protocol, client
// side: it starts engine processes (Spawn), connects to them (Dial,
// DialUnix, DialTLS for remote engines, InProcess), negotiates the protocol version, moves artifacts by
// digest, records calls for replay, and classifies errors. The typed calls
// live in engine/snarkclient and engine/vmclient; pooling lives in
// engine/pool. It does not import the server (engine/host): what both sides
// share is in engine/protocol.
//
// Invariants:
//   - A spawned engine is connected to only after it has announced its socket
//     on stdout. The whole start (announce and handshake) fails at once if
//     the process exits, and after SpawnOptions.StartTimeout at most,
//     whatever the caller's context; an engine that closes its stdout
//     without announcing fails the start too.
//   - Engines are started by internal/childproc: their own process group,
//     SIGKILL when proofd dies (Pdeathsig from a locked OS thread:
//     golang/go#27505), reaped even if a grandchild holds their output.
//     They exit when their stdin closes. Close and a failed start kill the
//     whole group, also after the engine itself exited.
//   - A TCP engine is reached only over mutual TLS 1.3 (DialTLS, or Spawn
//     with SpawnOptions.TLS): the client presents a certificate and trusts
//     only the CA it is given for the engine's. DialTLS runs the same
//     handshake and version check as Dial, but fails on the first
//     connection error (a refused certificate) instead of waiting for ctx.
//   - Large inputs travel by digest; bytes are uploaded only when the engine
//     reports them missing, then the call is retried once.
//   - Errors caused by bad input are *InputError and never retryable; errors
//     caused by a dead or unreachable engine are marked retryable.
//   - SpawnOptions.OnRPC, when set, hears of every RPC on the spawned
//     engine's connection once, when it ends (a unary call when it
//     returns, a stream at its response, io.EOF or error; a stream its
//     caller abandons is not reported), by short method name with the
//     error gRPC returned; so does DialTLSObserved's obs. Connections
//     made by Dial, DialTLS, DialUnix and InProcess are not observed.
//     engine/enginemetrics adapts it to Prometheus.
package engine
