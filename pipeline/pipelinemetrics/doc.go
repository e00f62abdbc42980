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
//	jobs{stage,state}              gauge      live jobs (orphans excluded), state=waiting|queued|in_flight|durable
//	job_seconds{stage}             histogram  block acceptance to the publication of one of its proofs
//	ingest_to_aggregate_seconds    histogram  acceptance of a bundle's earliest block to its aggregate's publication
//
// stage is tx, batch or aggregate and state one of four values, so no
// label grows without bound. There is no cache-miss counter: a Proved job
// that was not a Hit is not exactly a miss (a miss can be dropped by a
// reorg or fail for good without ever being Proved), and Update reports
// no misses.
//
// Invariants:
//   - Every Update sets the jobs gauges to its Depth and, besides, changes
//     the metrics of its one set field.
//   - Latencies are measured on Options.Now (injectable for tests) from a
//     block's first acceptance in this process: a replayed block counts as
//     accepted when it is replayed, and a block that comes back in a reorg
//     keeps its first time. An aggregate's job_seconds is timed from its
//     bundle's last block (the block its JobID names);
//     ingest_to_aggregate_seconds from the earliest acceptance among that
//     block and its ancestors within the bundle (BundleSize blocks).
//   - Bound: acceptance times are kept per block hash from the block's
//     first acceptance until the aggregate covering it is published (the
//     bundle's blocks are then forgotten) or an Update.Pruned reaches its
//     height. So only blocks above the last prune are held: the unfinalized
//     window plus the side forks accepted within it. A proof published
//     again after its bundle settled (a flip reorg back to a settled fork)
//     is counted in published_total but not timed.
package pipelinemetrics
