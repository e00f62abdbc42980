// Package vmengine is the Cannon-backed VM engine: it serves the engine
// protocol's Vm service over Cannon's MIPS64 VM (state version 8), used as
// a library through package vm.
//
// A prestate is loaded once per digest: the engine runs it to its end (or a
// step bound), keeping a clone of the state every SnapshotEvery steps (at
// most MaxSnapshots of them: a long run thins them and doubles the
// distance), and
// then answers "claim at step i", "step data at i" and "final state" by
// stepping forward from the nearest warm snapshot — or from where the last
// question left the VM, when that is closer. Past the program's exit it
// answers with the final state, as a fault-proof challenger expects.
//
// Byte-exactness: claims and witnesses depend only on the state. Cannon's
// proof data does not: a step that needs fewer memory proofs than the
// format holds carries, in the spare slots, the memory proofs the VM last
// computed since it was loaded. A proof for step i is therefore made the
// way `cannon run --proof-at =i` makes it when started from the engine's
// nearest snapshot strictly before i — stepping there without proving — and
// equals that byte for byte (TestTraceMatchesCannon). Snapshots keep their
// page hashes, and a VM started from one gets a copy of them, so a proof
// does not re-hash all of memory.
//
// Invariants:
//   - Warm snapshots are never mutated: a question steps a clone of one, or
//     the trace's own cursor VM, never a snapshot in place.
//   - Questions about one prestate are answered one at a time (a VM is a
//     single mutable state); different prestates proceed in parallel.
//   - Preimage servers started for a trace are stopped when the engine stops.
//   - Prestate bytes are decoded by the snapshot package (proofd format,
//     every length bounded) or by Cannon's own decoder (.bin, .bin.gz),
//     under recover.
package vmengine
