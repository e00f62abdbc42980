// Package evmtest compiles Solidity with the pinned solc (npm's solcjs,
// installed by scripts/install-solc.sh on first use) and runs contracts in
// go-ethereum's in-memory EVM, for tests of the verifiers gnark exports.
//
// Invariants:
//   - The compiler is the pinned version in a project-local cache, installed
//     idempotently by the project's own script: no machine-wide install.
//   - Without Node.js or npm the helpers skip the test with the reason,
//     unless PROOFD_REQUIRE_SOLC=1 (set by the Makefile, so CI fails instead).
//   - Contracts run only in go-ethereum's in-memory EVM (core/vm/runtime);
//     nothing talks to a network.
package evmtest
