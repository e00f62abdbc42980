// Package pipelinemetrics exports the proving pipeline's progress
// (pipeline.Update, what ShellConfig.Observe receives) as Prometheus
// metrics. The pipeline package itself does not import Prometheus; this
// adapter is what the CLI (and a node) registers.
//
// Metrics (namespace proofd_pipeline_):
//
//	blocks_accepted_total          counter    blocks taken from the source (replayed ones included)
//	reorgs_total                   counter    blocks that moved the tip off its own chain
//	proofs_made_total{stage}       counter    proofs made (engine calls that succeeded)
//	cache_hits_total{stage}        counter    proofs found in the receipt store and checked
//	published_total{stage}         counter    proofs published to the next stage
//	retries_total{stage}           counter    failed proofs to be retried
//	failures_total{stage}          counter    jobs failed for good
//	prove_seconds{stage}           histogram  time to make (and verify) one proof
//	tip_height                     gauge      height of the last accepted block
//	pruned_through                 gauge      receipts are pruned through this height
//
// stage is tx, batch or aggregate: three values, so no label grows without
// bound. Invariant: every Update the shell reports changes exactly the
// metrics of its one set field.
package pipelinemetrics
