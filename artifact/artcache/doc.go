// Package artcache is a worker host's cache of artifacts (constraint
// systems, proving keys: megabytes each) by content digest. A worker proves
// jobs whose artifacts the node put in a JetStream object store under their
// SHA-256; the cache fetches each one at most once, keeps the recently used
// ones in memory and in a directory, each tier under a byte budget, and
// never hands out bytes it has not checked against their digest.
//
// A Get looks in memory, then on disk, then fetches from a Source. What it
// fetches it writes to disk (atomically, via atomicfile) and keeps in
// memory. Each tier evicts its least recently used artifacts until it fits
// its budget; an artifact larger than a tier's whole budget is returned but
// not kept in that tier. The disk tier's order is each file's modification
// time, set on every use, so it survives a restart.
//
// The directory holds one file per artifact, named by the lower-case hex of
// its digest and holding exactly its bytes; there is no header or index.
// Open removes the temp files a crashed write left ("." + hex + ".tmp-*")
// and leaves any other file alone.
//
// Invariants:
//   - The digest of every artifact Get returns is the d it was asked for.
//   - A file in the directory named by a digest holds the bytes with that
//     digest, or is removed (and reported to Hooks.Corrupt) the first time
//     it is read.
//   - Each tier's bytes (Stats) never exceed its budget. The directory
//     holds more only by the files of loads under way, while they are
//     written.
//   - Concurrent Gets of one digest share one load: one disk read or one
//     fetch.
//   - An artifact being returned is never evicted first: it is added as the
//     most recently used, and only others are dropped to fit.
package artcache
