// Package queue is the seam between the proving pipeline and where its
// engine calls run: the jobs (Prove, Verify), the local implementation on
// an engine pool (Local), and the wire form of jobs and results for queues
// that cross hosts (Encode*/Decode*, proto/queuev1), used by
// queue/jetstream.
//
// The consumer (examples/rollup/prover) owns the interface it calls; both
// Local and jetstream.Client satisfy it, so the pipeline and the prover do
// not change between one machine and many.
//
// Invariants:
//   - A job is named by ID: for a proof, the receipt key it will be stored
//     under (receipts.Key.String()); for a verification, VerifyID of its
//     inputs. Two jobs with one ID ask for the same thing.
//   - Attempt is the node's attempt, from 1. Whoever redelivers a job (a
//     queue, after a worker died) keeps its attempt: only the node's retry
//     after a reported failure raises it.
//   - Decoding never panics and never allocates by a length the sender
//     wrote: protobuf slices the input, and DecodeJob/DecodeResult check
//     every field (digests 32 bytes, names and ids bounded, one call or
//     outcome) before a job or result is used.
//   - Errors keep their class across the wire: bad input stays an
//     *engine.InputError, a poison job stays pool.ErrPoisonRequest, and
//     everything else is retryable by the node.
package queue
