// Package host runs an engine implementation on a Unix socket (or on TCP
// with mutual TLS, for remote clients) and announces it to the process that
// started it.
//
// Invariants:
//   - The socket is bound and listening before the announce line is written,
//     so a client that reads the line can always connect (no bind→listen race).
//   - The announce line is the only thing an engine writes to stdout.
//   - A TCP engine (Config.ListenTCP) serves only with mutual TLS: Validate
//     refuses a config without TLS, without RequireAndVerifyClientCert and
//     client CAs, without a server certificate, or allowing less than
//     TLS 1.3. It announces the address actually bound (never port 0). A
//     TLS handshake not finished in 10 s is dropped. A client whose
//     certificate verifies is trusted like a local parent (Shutdown too).
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
//   - One Budget (MaxResidentBytes, --max-resident-bytes) counts everything
//     an engine keeps between calls: artifact bytes, their decoded forms,
//     and what engines register themselves (the VM engine's traces). The
//     bytes registered never exceed it: the least recently used unpinned
//     entries are evicted to make room, and what does not fit beside the
//     pinned ones is refused (RESOURCE_EXHAUSTED), never admitted over.
//   - A call pins what it uses (a Lease for artifacts and decoded forms,
//     Entry.Pin for an engine's own entries) and nothing pinned is evicted
//     or dropped until the call unpins it.
//   - Decoded forms are sized by SizeOf, a walk of the Go memory the decoder
//     actually built (slices by capacity, maps by entries, each pointer
//     once), not by a count read from the encoding. For gnark objects it is
//     the curve points, field elements and constraint slices they hold;
//     it does not see a map's spare buckets, so it is slightly low.
//   - The budget bounds what stays resident, not a call's working memory
//     (gnark's prover, an upload being received, a prestate being decoded
//     before its trace is counted): `engine serve` sets the Go memory limit
//     to the budget plus an eighth and 128 MiB for those.
//   - Nothing is allocated from a size a peer declared: an upload grows
//     with the bytes that arrive, never past its header's size, and a
//     header announcing more than the artifact limit or the budget is
//     refused before any byte.
package host
