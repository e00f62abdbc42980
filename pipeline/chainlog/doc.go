// Package chainlog is what a proving node has accepted of the chain, kept
// durably so a restart knows what remains to prove: the events it took from
// its chain source (blocks and finality), the base it grows from (the last
// pruned checkpoint), how far into the source it has read, and a journal of
// the proofs in flight.
//
// It is one pebble database beside the receipt store. Keys:
//
//	"b"                    → base: height u64 BE ‖ hash (32)
//	"e" ‖ seq u64 BE       → an accepted event (see below), in acceptance order
//	"j" ‖ job (49 bytes)   → a journal entry: a Prove in flight (attempt u32 BE)
//
// An event value is: version (1) ‖ CRC32C of the rest (u32 BE) ‖ kind ‖
// body. kind 1 is a block: height u64 ‖ hash 32 ‖ parent 32 ‖ txs u32 ‖
// payload length u32 ‖ payload; kind 2 is finality: height u64.
//
// Invariants:
//   - Append is durable (pebble.Sync) before it returns: an event is logged
//     before the pipeline acts on it, so a restart replays everything the
//     node acted on, in the same order. The source position is the next
//     event's sequence number, so logging an event and advancing past it are
//     one write.
//   - Rebase moves the base and drops the events at or below its height in
//     one durable batch. Callers rebase before they prune receipts: a crash
//     in between leaves receipts nobody will look up (the next prune's range
//     delete takes them), never a replay that misses pruned proofs and proves
//     them again.
//   - A corrupt value is an error naming its key, never a replayed event.
//   - Nothing read from disk sizes an allocation beyond MaxPayloadBytes.
package chainlog
