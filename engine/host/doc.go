// Package host runs an engine implementation on a Unix socket and announces
// it to the process that started it.
//
// Invariants:
//   - The socket is bound and listening before the announce line is written,
//     so a client that reads the line can always connect (no bind→listen race).
//   - The announce line is the only thing an engine writes to stdout.
//   - The socket lives in a private directory (0700) that is removed on exit;
//     an explicitly named socket that already exists is probed by dialing and
//     removed only if nothing answers.
//   - Every request gets a status: a panic in a handler becomes INTERNAL and
//     the engine goes on serving; messages over the size limit are refused
//     with RESOURCE_EXHAUSTED; unknown methods get UNIMPLEMENTED.
//   - Artifacts are content-addressed: Store holds bytes under their SHA-256
//     and never serves bytes whose digest it has not checked.
package host
