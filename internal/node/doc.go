// Package node is `proofd node`: a long-running prover that follows a
// chain submitted through its ingest API (proto/ingestv1, served by connect
// as gRPC and HTTP/JSON) and proves it through the pipeline
// (docs/ingest.md).
//
// The data directory holds keys/, receipts/, chain/ (the pipeline's
// accepted chain and journal) and inbox/, a pebble log of what the ingest
// API accepted, in order, which is the pipeline's Source.
//
// Invariants:
//   - A block is synced into the inbox before submit answers 200; the
//     pipeline's source position and the inbox share numbering, so a
//     restart resumes exactly after the last event the pipeline logged.
//   - Submit is idempotent by hash above the finalized height; it refuses a
//     block whose parent was never submitted, whose height does not follow
//     it, or that is at or below the finalized height (the inbox's index
//     forgets blocks below finality, so it is bounded by how far finality
//     trails the tip), and answers 429 (to SetHead and Finalize too)
//     while the pipeline lags more than max-behind events: memory does not
//     grow with a fast sequencer (the inbox is on disk).
//   - What only the chain can judge (a fork below finality) the pipeline
//     refuses and reports; it never stops the node.
//   - On cancellation the node stops taking blocks, lets the pipeline finish
//     for shutdown-grace, then stops it; the journal and the receipts make
//     the restart prove nothing durable again.
//   - IngestOnly (benchmarks, the fuzz test) serves the same Handler over
//     the same inbox with no prover: a submit is answered exactly as Run's
//     node answers it.
//   - Configuration: defaults < file < PROOFD_* environment < flags; an
//     unknown file key is an error, and every invalid value is reported at
//     once. A non-loopback HTTP listener needs allow-insecure-http.
//   - With nats set, proofs and verifications go to workers through
//     JetStream (queue/natsq, docs/scale.md); the node remains the one
//     writer of its receipt store, and setup still runs on its own engines.
//   - GET / is the status page (statuspage), mounted on its own paths only;
//     it reads GetStatus and nothing else.
package node
