// Package keycache keeps SNARK setup keys in a data directory, by the
// content digest of what they were made for, so that a restarted pipeline
// or demo does not run setup again for a circuit it has already set up.
//
// Layout: DIR/<id>/pk.bin, DIR/<id>/vk.bin and DIR/<id>/keys.json, where
// <id> is the hex SHA-256 of the setup's identity (the constraint system's
// digest, the scheme, the SRS's digest for PLONK) and keys.json records the
// identity and the two keys' digests.
//
// Invariants:
//   - A pair is published by WriteGroup with keys.json last, so keys.json's
//     presence is the commit point; Put first withdraws (and syncs away) an
//     older keys.json. A crash anywhere in a Put leaves a miss, never a pk
//     from one setup beside a vk from another.
//   - Get checks both keys' bytes against the digests keys.json records, and
//     keys.json's identity against the one asked for; a mismatch is
//     ErrCorrupt naming the file, never a hit.
//   - Nothing read is trusted for its size: files are read whole but only
//     files this package wrote are read, and a key larger than MaxKeyBytes is
//     refused before it is read.
//   - The directory is private (0700) and the keys 0600: a proving key is as
//     sensitive as the circuit it proves.
package keycache
