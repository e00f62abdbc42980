// Package receiptmetrics exports the receipt store's hooks (receipts.Hooks)
// as Prometheus metrics. The receipts package itself does not import
// Prometheus; this adapter is what a node registers.
//
// Metrics (namespace proofd_store_):
//
//	receipts{kind}         gauge      receipts stored, kind=tx|batch|aggregate
//	bytes{kind}            gauge      bytes of their keys and values (as Store.Stats counts them)
//	prunes_total           counter    prunes that succeeded
//	write_seconds          histogram  time of one successful durable Put (fsync included)
//	write_errors_total     counter    Puts and Prunes the database failed
//
// Use: New registers the metrics; pass Metrics.Hooks() in receipts.Options
// to Open; then Track(store) seeds the gauges from Store.Stats().
//
// Invariants:
//   - The gauges are Stats() as read by Track, plus every successful Put
//     since, and are read from Stats() again after every successful prune.
//     Stats is a full scan of the store; it runs once at Track and once
//     per prune, which the pipeline does once per finalized bundle.
//   - Two cases overcount until the next prune re-reads Stats: a Put over
//     a key already stored (a corrupt receipt proved again) counts as a
//     new receipt, and a Put that lands during a prune's re-read may be
//     counted twice.
//   - Before Track, Puts still move the gauges from zero, and a prune does
//     not re-read anything.
//   - kind has three values, so no label grows without bound.
package receiptmetrics
