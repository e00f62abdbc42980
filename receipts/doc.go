// Package receipts is the durable store of proofs ("receipts") that the
// proving pipeline consults before proving and writes after: a proof made
// once is found again after a reorg back to its fork or a restart.
//
// # Key
//
// Every key is KeyLen (113) bytes, integers big-endian so that byte order is
// checkpoint order:
//
//	0        8                          40   41                         73                         105        113
//	┌────────┬──────────────────────────┬────┬──────────────────────────┬──────────────────────────┬──────────┐
//	│ ckpt   │ block hash               │kind│ image id                 │ statement digest         │ index    │
//	│ u64 BE │ 32 bytes                 │ u8 │ 32 bytes                 │ 32 bytes                 │ u64 BE   │
//	└────────┴──────────────────────────┴────┴──────────────────────────┴──────────────────────────┴──────────┘
//	kind: tx=1, batch=2, aggregate=3
//	image id: digest of the constraint system and verifying key
//	statement digest: StatementDigest of every input that defines what was proved
//	index: tx: index in the block; batch: 0; aggregate: the bundle's end coordinate
//
// # Value
//
//	0         1            5                          37         41       41+P       45+P      45+P+U     53+P+U
//	┌─────────┬────────────┬──────────────────────────┬──────────┬────────┬──────────┬─────────┬──────────┐
//	│ version │ CRC32C     │ statement digest         │ P u32 BE │ proof  │ U u32 BE │ public  │ created  │
//	│ u8 = 1  │ of bytes 5…│ 32 bytes                 │          │ P bytes│          │ U bytes │ unix ns  │
//	└─────────┴────────────┴──────────────────────────┴──────────┴────────┴──────────┴─────────┴──────────┘
//	CRC32C (Castagnoli), u32 BE, covers everything after itself; created is an i64 BE.
//
// # Invariants
//
//   - A receipt is durable before Put returns: every write uses pebble.Sync.
//     Concurrent Puts share WAL fsyncs through pebble's commit pipeline
//     (TestConcurrentPutsShareFsyncs measures it). A failed WAL fsync is
//     fatal in pebble (Logger.Fatalf), so Put never returns nil for a
//     receipt that is not durable.
//   - Get never serves a value that fails its checksum or layout (ErrCorrupt,
//     named with its key in hex) or whose statement digest differs from its
//     key's (ErrStale). The statement digest is in the key, so a change of
//     any input or configuration that defines a proof changes the key: a
//     stale proof is a miss, not a hit.
//   - Forks and images never collide: the block hash and image id are in
//     the key. Nothing but Prune deletes; a reorg deletes nothing.
//   - Prune(c) is one range delete, [checkpoint 0, checkpoint c+1): every
//     kind, fork and image at checkpoints ≤ c goes, nothing above c is
//     touched.
//   - The key and value layouts are golden-tested (testdata/golden); a
//     change of layout is a new value version, not a silent drift.
//   - Options.Hooks see every database write once, after it returns, on the
//     writer's goroutine: Put with the receipt's kind and the bytes Stats
//     counts for its entry, Prune with its checkpoint. The store does not
//     import Prometheus; receipts/receiptmetrics adapts the hooks.
//   - Decoding a value allocates nothing: its proof and public inputs are
//     slices of the bytes read, bounds-checked against them first.
package receipts
