// Package bbtest finds what tests of the bb engine need: the real bb
// binary and the Noir fixtures of testdata/noir.
//
// Invariants:
//   - BB installs bb with scripts/install-bb.sh (or takes $PROOFD_BB) once
//     per test binary. When bb is unavailable the test is skipped, unless
//     PROOFD_REQUIRE_BB=1 (make test sets it), when it fails.
package bbtest
