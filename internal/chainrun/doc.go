// Package chainrun takes a simulated rollup chain (examples/rollup) through
// the proving pipeline on one data directory: what `proofd demo` and
// `proofd bench pipeline` run.
//
// A data directory holds:
//
//	chain.json   which chain it follows (seed and shape); a different chain is refused
//	keys/        setup keys by content digest (keycache)
//	receipts/    the receipt store (pebble)
//	chain/       the accepted chain and the in-flight journal (pipeline/chainlog)
//
// Invariants: the data directory is opened by one run at a time (pebble's
// own lock refuses a second); the chain it follows is fixed when it is
// created, so a run on it never feeds the log of one chain the events of
// another; everything a run proves is durable in receipts/ before it is
// published, so a later run, or a run restarted after a crash, proves
// nothing that was durable.
package chainrun
