// Package snapshot is proofd's container for virtual-machine state: a
// Cannon MIPS64 state (state version 8, multithreaded64-5) stored as a
// fixed header that carries the claim, memory in independently compressed
// and check-summed chunks of pages, Cannon's other state bytes, and a page
// index, so that the claim is read from a few hundred bytes, any page is
// one seek away, and a file converts to and from Cannon's .bin/.bin.gz
// byte for byte. docs/snapshot-format.md is the full specification.
//
// A file is five sections that tile it with no gaps; numbers are big-endian:
//
//	+--------------------------------+ 0
//	| header                320 bytes |  claim, witness, step, page count
//	+--------------------------------+ 320
//	| chunk 0       zstd frame        |  pages 0 .. P-1 (P = pages per chunk)
//	| chunk 1       zstd frame        |  pages P .. 2P-1
//	| ...                             |
//	+--------------------------------+ state offset
//	| state           Cannon's bytes  |  State.Serialize after memory, verbatim
//	+--------------------------------+ index offset
//	| chunk table   20 bytes a chunk  |
//	| page table    40 bytes a page   |
//	+--------------------------------+ index offset + index length
//	| footer                 48 bytes |
//	+--------------------------------+ end of file
//
// Header (checksum over bytes 0-315):
//
//	+-------+---------+------+-------+----------+------+-------+-------+---------+---------+--------+
//	| magic | format  | vm   | state | pages    | step | page  | claim | witness | witness | crc32c |
//	|       | version | kind | vers. | per chunk|      | count |       | length  | + zeros |        |
//	+-------+---------+------+-------+----------+------+-------+-------+---------+---------+--------+
//	   8        2       1      1        4         8      8       32       4        248        4
//
// Chunk table entry, then page table entry (pages in storage order; page k
// is in chunk k/P at slot k%P):
//
//	+--------+-------------+-------------+------------+    +------------+----------------+
//	| offset | frame length| frame crc32c| data crc32c|    | page index | page root      |
//	+--------+-------------+-------------+------------+    +------------+----------------+
//	    8          4              4            4                 8             32
//
// Footer (checksum over bytes 0-35):
//
//	+-----------+-----------+-----------+-----------+-----------+-----------+--------+-------+
//	| state off | state len | state crc | index off | index len | index crc | crc32c | magic |
//	+-----------+-----------+-----------+-----------+-----------+-----------+--------+-------+
//	      8           4           4           8           8           4          4       8
//
// Invariants:
//   - A file at its final path is complete: it is written through
//     atomicfile (a temp file in the same directory, fsynced, renamed, the
//     directory fsynced), whose FS the Options carry for fault tests. The
//     header is written last (at offset 0 of the temp file), once the memory
//     root is known, so nothing is hashed twice and memory streams once.
//   - Every byte is under a CRC32C (Castagnoli): the header's own, each
//     chunk's frame and decompressed data (in the chunk table), the state's
//     and the index's (in the footer), the footer's own.
//   - The claim is Cannon's StateWitness.StateHash of the header's witness;
//     the witness's memory root is the fold of the page roots; each page
//     root is Cannon's CachedPage.MerkleRoot of the page; the rest of the
//     witness is what Cannon computes from the state section. Open checks
//     the first, Load the last, Verify all of them.
//   - A reader allocates nothing a file asks for until it has bounded it:
//     by the file size (index, state, page count) or by MaxPagesPerChunk
//     (chunk buffers). Duplicate pages, truncation, any flipped bit and
//     absurd lengths are errors naming the file and a byte offset.
//   - Loading or converting a state refuses it, at its page count and
//     before any page, when its pages would take more host memory than
//     Options.MaxMemoryBytes at PageMemoryCost each (ErrMemoryLimit), so
//     no small file, compressed or not, loads into unbounded memory.
//   - Page roots are Cannon's, bit for bit, and so is the node cache
//     hashing leaves behind; the hasher takes all-zero subtrees' roots
//     from the zero-hash table instead of hashing them.
//   - Writing and reading keep at most 2*workers+2 chunks in memory besides
//     the index; guest memory is never copied whole.
//   - Pages are stored in Cannon's order (ascending, as State.Serialize
//     writes them, or a converted file's own order), so ToCannon is
//     bit-exact.
//
// Page roots and Cannon: Cannon's memory cannot be seeded with page roots.
// CachedPage exports its node cache, but MerkleRoot rehashes the bottom
// layer unless all 127 nodes of the page are marked valid, and marking
// them valid with only the root known would make Cannon's memory proofs
// wrong. So the stored roots serve Verify, which folds them into the memory
// root without building Cannon memory, and Write takes them from Cannon's
// warm page caches where it can; Load hashes every page on all cores
// (real hashes, filling Cannon's caches) and checks each against its stored
// root, so the first witness after a load only folds page roots.
package snapshot
