// Package konf loads a command's configuration the one way proofd's
// long-running commands (`proofd node`, `proofd worker`) do: defaults, then
// a YAML file, then PROOFD_* environment variables, then flags, each over
// the one before, with koanf.
//
// Invariants: a file key nobody reads is an error (a typo is never
// silently ignored); only the command's own keys are read from the
// environment (other PROOFD_* variables belong to other parts of proofd);
// list keys take comma-separated values in the environment.
package konf
