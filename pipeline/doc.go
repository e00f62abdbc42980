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
package pipeline
