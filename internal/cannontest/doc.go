// Package cannontest builds the real `cannon` binary, from the optimism
// module this module depends on, for tests that compare proofd with it.
//
// Without Go's module cache or network the build fails and the tests that
// need it are skipped, unless PROOFD_REQUIRE_CANNON is set, which makes a
// missing cannon a failure. Under -short nothing is built.
//
// It also serves Cannon's preimage protocol from a key/value map (ServeKV),
// for test binaries re-executed as preimage servers.
package cannontest
