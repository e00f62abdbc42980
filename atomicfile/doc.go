// Package atomicfile replaces files so that a reader, or the system after a
// crash, sees a file's old content or its new content, never a mix or a
// prefix.
//
// One code path does every write (WriteGroup; Write, WriteFunc and WriteFS
// are groups of one), in three phases:
//
//  1. stage: each file is written to a temp file in its own directory (so
//     the rename never crosses filesystems), given its mode, fsynced and
//     closed;
//  2. publish: only once every temp is durable, each is renamed over its
//     target, in the order given;
//  3. sync: each target directory is fsynced once, so the renames
//     themselves survive a crash.
//
// Invariants:
//   - A target is only ever replaced by a rename of a complete, fsynced
//     file: after any failure or crash each target holds its old content
//     (or is absent if it was) or its new content, in full.
//   - A failure while staging changes no target. Temp files that were not
//     published are removed before WriteGroup returns an error; only a
//     crash can leave one behind (named "."+base+".tmp-*" next to its target).
//   - All I/O goes through FS, so tests inject faults at every step.
//
// What a group does not guarantee: the renames of a group are separate
// system calls, so the files are not replaced as one. If publishing fails at
// file k (WriteGroup's error says so), files before k are new and the rest
// old. After a crash during publishing, or after publishing but before the
// directories are synced, each file is independently old or new: the
// filesystem may persist any subset of the renames. The window is the
// renames and one fsync per directory, a few milliseconds, and it is never
// a partial file. A reader that needs the group to agree (a proving key and
// its verifying key) must check that they do, for example by a digest of
// one stored in the other; a nil error from WriteGroup means every file is
// new and durable.
//
// If only the final directory sync fails, every file is in place and
// complete, but its name may not survive a crash: the error says so.
package atomicfile
