// Package cli is proofd's command line. Each command is a thin client of the
// engine API: it reads files, calls an engine (in-process by default, a
// spawned engine process with --engine spawn), and writes files.
//
// Exit codes: 0 success; 1 a negative answer (verify: invalid proof, check:
// unsatisfied witness); 2 an error (bad input, engine failure, bad flags).
package cli
