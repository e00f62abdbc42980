// Package natsq is the queue seam (package queue) on NATS JetStream: a
// node's Client publishes jobs and waits for their results; RunWorker pulls
// jobs on a worker host and answers them (docs/scale.md).
//
// Streams (Topology, declared alike by node and worker): PROOFD_JOBS, a
// work queue of proofd.job.<kind>.<class>; PROOFD_RESULTS, one result per
// proofd.result.<node>.<id>; PROOFD_DEAD, poison jobs; and the object store
// proofd-artifacts, artifacts named by their SHA-256 digest.
//
// Invariants:
//   - A job is published with Nats-Msg-Id <id>-<attempt>: within the
//     duplicate window the same job and attempt is stored once, so a node
//     that publishes again (a restart) makes no second job.
//   - A worker acks a job only after JetStream has stored its result; a
//     worker that dies first loses nothing (redelivery after AckWait, same
//     attempt: the node's retry budget is not spent). A live worker sends
//     in-progress acks every AckWait/3.
//   - The node accepts any proof or verdict for a job, and a failure only
//     for its own attempt or a later one; each Verify call is a job of its
//     own (a random suffix on its id), never answered by a kept result; a result nobody waits for is
//     dropped (Hooks.Late), so a duplicate never becomes a second receipt.
//   - A job delivered more than MaxDeliver times is dead-lettered unrun and
//     answered as poison (pool.ErrPoisonRequest): it is not retried. A job
//     JetStream will deliver no more (its consumer's MaxDeliver) is
//     dead-lettered by its own node, on JetStream's advisory.
//   - A worker uses an artifact only if its bytes hash to the digest the job
//     names (artifact/artcache); reply subjects are built from the job's
//     node name and id, both checked to be single subject tokens, never
//     taken from the message.
//   - Drain: no new job after ctx ends; jobs in flight finish within Grace
//     or are handed back (Nak).
package natsq
