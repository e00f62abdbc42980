// Package vm runs programs on Cannon's MIPS64 fault-proof VM, imported as a
// library (github.com/ethereum-optimism/optimism/cannon/mipsevm), and does
// what Cannon's CLI does (load-elf, run, witness) with the same results.
// The VM engine builds on it: Machine steps a state and proves a step,
// Clone keeps warm copies, Claim and Witness read a state's commitment.
//
// Invariants:
//   - Every state is Cannon state version 8 (multithreaded64-5, MIPS64
//     big-endian) or another version Cannon supports; anything else is
//     refused on load and on write, with snapshot.ErrUnsupported.
//   - Same bytes as Cannon: LoadELF's state and metadata, Machine's steps,
//     claims and proofs (EncodeJSON of a Proof), WitnessJSON, and Cannon
//     files written by WriteState, Run and WriteJSONFile equal what the
//     cannon binary of optimism v1.19.6 writes, byte for byte (the tests
//     build it and compare; without it they compare with Cannon's library).
//   - Formats: a state file's format is read from its content (proofd
//     snapshot magic, gzip magic, else Cannon's binary format) and chosen on
//     write by its name (.bin or .bin.gz: Cannon's, else a snapshot).
//     Writes are atomic: temp file, fsync, rename, fsync of the directory.
//   - A bad input file is an error naming the file (and, for state files,
//     the offset), never a panic: Cannon files are read with every count
//     bounded by the file before anything is allocated and duplicate pages
//     refused; ELF segments are bounded to 1 GiB.
//   - Cannon's VM signals some failures by panicking (an oracle that cannot
//     answer, a malformed guest). Machine recovers them into errors naming
//     the step and pc; the state may then be half-updated, so the machine
//     refuses further work (ErrBroken).
//   - Exit: as in Cannon, an exited state is never stepped and no proof or
//     snapshot is made at or after the exit step (ErrExited). The trace
//     past the end, as op-challenger extends it, is ExtensionProof.
//   - A Machine owns its state and is not safe for concurrent use; Clone
//     and snapshot writes read a state that nothing may step meanwhile.
//   - A preimage server (ProcessOracle) runs in its own process group, dies
//     with this process, and is killed with its group on Close or when its
//     context is done; Close reaps it. No goroutine outlives Close.
//
// Memory layout: LoadState and LoadELF give states with Cannon's default
// memory, so a Machine starts in microseconds; `cannon run` instead loads
// states with a 128 MiB instruction cache (about 0.75 s and 400 MiB to
// build, about 20% faster stepping). CloneLargeICache gives that layout for
// long runs. Both step identically.
package vm
