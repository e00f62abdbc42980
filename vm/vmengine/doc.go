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
// Memory: a loaded prestate (its trace) is one entry of the engine's
// resident budget (host.Budget, --max-resident-bytes), shared with the
// artifacts: its warm snapshots, its final state and room for the cursor,
// each sized by host.SizeOf (a copy of guest memory with its page hashes,
// about 2.1 times the memory). The run reserves the running VM and the
// next snapshot before cloning; if that does not fit, it thins the
// snapshots, and with one left it gives up (RESOURCE_EXHAUSTED). The least
// recently used traces are evicted for room; a question pins its trace.
// A question about an evicted or unloaded prestate is FAILED_PRECONDITION
// (vmclient.ErrNotLoaded; vmclient.Trace loads it again). Unload drops a
// trace at once, or when the questions in flight on it finish.
//
// Preimages come from the request (a key/value list) or from a preimage
// server the engine was started with (Options.PreimageServers, `proofd
// engine serve --kind vm --preimage-server NAME=CMD`), which a request
// names. A request never makes the engine run a command.
//
// Invariants:
//   - Warm snapshots are never mutated: a question steps a clone of one, or
//     the trace's own cursor VM, never a snapshot in place.
//   - Questions about one prestate are answered one at a time (a VM is a
//     single mutable state); different prestates proceed in parallel.
//   - Preimage servers started for a trace are stopped when the trace is
//     evicted or unloaded, and when the engine stops.
//   - A prestate is run once at a time: concurrent Loads of one digest share
//     the run, which is canceled only when every one of them has gone.
//   - Only commands from Options run; a request naming another server, or
//     carrying a command line (the deprecated preimage_server field), is
//     bad input and nothing is started.
//   - Resident traces never exceed the budget, and a pinned trace (one a
//     question or its own load is using) is never evicted.
//   - Options.Hooks hear of each completed run once (its steps and wall
//     time) and of each snapshot a run takes (its bytes); the package does
//     not import Prometheus (vm/vmengine/vmmetrics adapts the hooks).
//   - Prestate bytes are decoded by the snapshot package (proofd format,
//     every length bounded) or by Cannon's own decoder (.bin, .bin.gz),
//     under recover.
package vmengine
