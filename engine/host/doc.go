// Package host runs an engine implementation on a Unix socket and announces
// it to the process that started it.
//
// Invariants:
//   - The socket is bound and listening before the announce line is written,
//     so a client that reads the line can always connect (no bind→listen race).
//   - The announce line is the only thing an engine writes to stdout.
//   - Only this user can connect to the socket, from the moment it exists.
//     By default it is bound in a fresh private directory (0700), which no
//     one else can enter, so its own mode does not matter until the chmod to
//     0600 that precedes the announce; this needs no umask change, which
//     would be process-wide. An explicitly named socket is bound in a private
//     directory beside its path and linked into place once it is 0600. The
//     socket (and private directory) is removed on exit.
//   - An existing socket is removed only when a dial is refused, the one
//     answer that proves nobody listens. At start, private directories that
//     killed engines left behind (Pdeathsig gives no chance to clean up) are
//     removed: only this user's, matching proofd-engine-*, unchanged for a
//     minute (an engine listens moments after making its directory), with a
//     socket that refuses a dial or none at all.
//   - Every request gets a status: a panic in a handler becomes INTERNAL
//     naming the method (go-grpc-middleware's recovery interceptor) and the
//     engine goes on serving; messages over the size limit are refused with
//     RESOURCE_EXHAUSTED; unknown methods get UNIMPLEMENTED.
//   - Hooks.CallDone sees every call to a registered method (its name,
//     status code and duration), refused and panicked calls included;
//     metrics adapters live outside this package.
//   - Artifacts are content-addressed: Store holds bytes under their SHA-256
//     and never serves bytes whose digest it has not checked.
package host
