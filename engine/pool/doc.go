// Package pool hands out engines: a fresh engine process per Get, or one of
// a pool of long-lived engines that start on first use and are replaced when
// they die. Do is the caller's loop around a lease: retries with jittered
// backoff, death handling, poison requests and hooks. The pool's decisions are poolCore's, a state machine without
// goroutines, clocks or I/O; Factory is the thin shell that runs processes
// and timers around it.
//
// Invariants:
//   - A pooled engine is leased to one caller at a time.
//   - A dead engine is never handed out again once the pool knows (it is
//     replaced).
//   - A failed pool start leaves the pool unstarted, so the next Get retries.
//   - Do runs one request on at most DeathRetries+1 engines that die under
//     it; then it is poison (ErrPoisonRequest), never retried.
//   - What the pool believes an engine holds is at most ResidentCap digests,
//     least recently used forgotten first; an engine's own report
//     (Lease.Resident, or the resident digests an idle engine lists in
//     answer to a health check) replaces it; a replacement engine starts
//     with none.
//   - Engines is a consistent snapshot (taken under the factory's lock)
//     that the caller owns: slot states, addresses, believed residents and
//     lease counts; nil before a pool starts and after Close; in fresh mode
//     the leases in flight.
//   - After Close no engine the factory started is left running.
//   - Hooks are plain functions; this package does not import Prometheus
//     (engine/pool/poolmetrics adapts the hooks).
package pool
