// Package engine is the client side of the proofd engine protocol: it starts
// engine processes, connects to them, and exposes each engine's operations as
// typed Go calls. The CLI, the pool and the pipeline all go through it.
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
//   - Factory: a pooled engine is leased to one caller at a time; a dead
//     engine is never handed out again once the pool knows (it is replaced);
//     a failed pool start leaves the pool unstarted so the next Get retries;
//     after Close no engine the factory started is left running. The pool's
//     decisions are poolCore's, a state machine without goroutines or I/O.
package engine
