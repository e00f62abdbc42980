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
