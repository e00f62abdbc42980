// Package cli is proofd's command line. Each command is a thin client of the
// engine API: it reads files, calls an engine (in-process by default, a
// spawned engine process with --engine spawn), and writes files.
//
// Exit codes: 0 success; 1 a negative answer (verify: invalid proof, check:
// unsatisfied witness); 2 an error (bad input, engine failure, bad flags) or
// an interruption.
//
// Signals (Main): the first SIGINT or SIGTERM cancels the work, and proofd
// exits within Grace (5 s) even if the work, such as gnark's setup, cannot
// be interrupted: it is abandoned, which loses nothing because outputs are
// written atomically and only after success. A second signal exits at once.
// An abandoned `engine serve` leaves its socket directory behind; the next
// engine to start removes it.
package cli
