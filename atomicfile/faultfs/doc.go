// Package faultfs is an atomicfile.FS for tests that fails one named
// operation on purpose, so the crash paths of code that writes through
// atomicfile can be checked: after any injected fault the destination holds
// its old content or its new content, never part of one, and no temp file
// is left.
//
// Invariants: only the operation named in Op ever fails, and every failure
// wraps ErrInjected; everything else is the real filesystem (atomicfile.OSFS).
package faultfs
