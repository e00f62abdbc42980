// Package worker is `proofd worker`: a host that pulls proving jobs from
// NATS JetStream (queue/natsq), runs them on its own engine pool, and
// answers them, with its artifacts cached on its disk (artifact/artcache).
//
// Invariants:
//   - A job is acked only after its result is stored in JetStream; a
//     worker that dies before that loses nothing: the job is redelivered
//     after ack-wait.
//   - SIGTERM drains: no new job is taken, jobs in flight finish for up to
//     drain-grace, the rest are handed back; then the engines stop.
//   - Secrets are read from files named by the configuration and never
//     printed: the effective configuration shows the NATS URL redacted.
//   - The metrics listener is loopback unless allow-insecure-metrics.
package worker
