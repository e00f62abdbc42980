// Package enginetest is the conformance suite every proofd engine must pass,
// and the helpers tests use to run real engine processes: building the
// proofd binary, and checking that no engine process outlives a test.
//
// Invariant: the suite talks to engines only through the public protocol;
// it never imports an engine implementation.
package enginetest
