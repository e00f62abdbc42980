// Package pipeline schedules the proving of a chain that reorganizes: a
// transaction proof per transaction, a batch proof per block over its
// transaction proofs, and an aggregate proof per bundle of BundleSize
// consecutive blocks over their batch proofs.
//
// Core holds the decisions as a plain state machine: events in (AddBlock,
// LookupDone, ProveDone, Stored, Finalize), effects out (Lookup, Prove,
// Store, Publish, Prune, Failed); no goroutines, clocks, I/O, or imports of
// the engine pool or the store. A shell carries the effects out on the pool
// and the receipt store and reports back. Each job goes: Lookup; on a miss,
// Prove (retried up to Config.Retries); Store; then, once durable, Publish to
// the next stage.
//
// Invariants (checked after every step by TestCoreStateMachine against an
// independent model):
//   - A job is keyed by its semantic coordinates (JobID: stage, block hash,
//     index; an aggregate by its bundle's last block), so a proof made on one
//     fork never stands for another.
//   - Publish names only jobs of blocks on the canonical chain, and only
//     once everything the job proves over is published on that chain: a
//     batch after all its block's tx proofs, an aggregate after all its
//     bundle's batch proofs. Nothing is Proved before its inputs are
//     published, either.
//   - A reorg rolls back to the common ancestor: queued work above it is
//     dropped; a job already in flight there finishes as an orphan, whose
//     proof is still Stored but never Published. When its block comes back
//     (a flip reorg, A → B → A), the orphan is adopted, or its proof is
//     found by Lookup: nothing is proven twice for one JobID while the store
//     keeps what it was given.
//   - At most one effect is outstanding per JobID, and at most
//     Config.MaxProving Prove effects at once (lowest bundle first, later
//     stages first within it).
//   - Prune{Through} covers only finalized heights whose aggregates are all
//     published, with no job in flight at or below Through; the core then
//     forgets those heights and every fork below them.
//   - With every effect carried out, every canonical block's batch and every
//     full bundle's aggregate is eventually published (or a job Failed).
//   - Restart: a Core built from the last pruned checkpoint (Config.Base)
//     and fed the accepted chain again finds every durable proof by Lookup.
//
// Run is the shell: it owns the interfaces it needs (Source, Log,
// Receipts, Prover) and carries the core's effects out on them, I/O off
// its loop goroutine, every core call on it. Its invariants (tested in
// shell_test.go on a real pebble store and chain log):
//   - An event is logged durably (Log.Append) before the core sees it, and a
//     restart replays the log into a fresh core before taking anything new
//     from the source: the core's state is a function of the log.
//   - A proof is published only after Receipts.Put returned (durable), and
//     a hit only after Prover.Check verified it; a corrupt or stale value is
//     proved again, never served.
//   - A prove is journaled (Log.Begin) before it starts and ended after its
//     receipt is durable; the journal only reports (Report.Resumed), since
//     lookups already find everything durable.
//   - Prune moves the log's base before it deletes receipts.
//   - The source is asked for its next event only while fewer than
//     MaxUnsettled canonical blocks await their batch proof.
//   - Run returns only after every goroutine it started has returned.
//   - Another goroutine reads the chain only through ShellConfig.Queries:
//     a function run on the loop goroutine, between events, with a View
//     that cannot change the core. Every Update carries the stages' Depth
//     after it.
package pipeline
