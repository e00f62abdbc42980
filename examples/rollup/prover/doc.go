// Package prover proves the rollup's three stages (examples/rollup) for the
// pipeline shell: it is the pipeline.Prover of `proofd demo`, `proofd node`
// and `proofd bench pipeline`. Proofs and verifications go through its
// Queue, the queue seam: queue.Local on a pool of snark engines (the
// default), or natsq.Client on workers through NATS JetStream. A proof's
// job is named by its receipt key; setup always runs on the local Pool.
//
// New compiles the three circuits in this process (the batch circuit takes
// the tx circuit's verifying key as a constant, so it is compiled after the
// tx keys exist), takes their keys from the key cache or runs the setup on
// the pool and caches the keys, and names each stage's image: SHA-256 over a
// domain tag, the constraint system's digest and the verifying key's.
//
// Invariants:
//   - A receipt's key names the stage's image and the rollup's statement of
//     the job (rollup.TxStatement and friends): a change of circuit, keys or
//     parameters can never find an old proof.
//   - Every proof is verified on an engine (where it was made) before Prove
//     returns it, and every
//     stored receipt before Check passes it: nothing unverified is published.
//   - Bad input (a payload that does not decode, a witness the engine
//     rejects, a poison request) wraps pipeline.ErrPermanent; everything
//     else may be retried.
package prover
