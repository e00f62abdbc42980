// Package crashpoint kills the process in the middle of a durable write,
// for crash tests that must hit that window exactly rather than hope a
// timed SIGKILL lands in it.
//
// FS wraps a pebble filesystem. When the environment variable
// PROOFD_CRASH_AT_SYNC is a number N, the process sends itself SIGKILL
// inside the Nth sync of a write-ahead log file, after the bytes were
// written and before they are known durable: the one moment a writer cannot
// tell whether its write survives. Unset (always, outside tests), FS returns
// its argument unchanged.
//
// Invariants: with the variable unset FS is the identity, so production
// runs pay nothing; only syncs of write-ahead log files (*.log) count, so
// the crash lands inside a durable write, never elsewhere.
package crashpoint
