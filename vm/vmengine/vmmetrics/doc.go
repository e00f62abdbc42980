// Package vmmetrics exports the VM engine's hooks (vmengine.Hooks) as
// Prometheus metrics, for the endpoint `proofd engine serve --kind vm
// --metrics-addr` serves. The vmengine package itself does not import
// Prometheus.
//
// Metrics (namespace proofd_vm_):
//
//	steps_total              counter  VM steps executed by completed runs
//	steps_per_second         gauge    speed of the last completed run (steps over its wall time)
//	snapshots_total          counter  snapshots the runs took (in-memory hashed copies of the VM state)
//	snapshot_bytes_total     counter  their bytes
//
// Snapshots are copies held in memory, not writes to disk, hence
// snapshots_total rather than "snapshot writes". A failed or canceled run
// adds no steps, but the snapshots it took before failing are counted.
// A run of zero duration leaves steps_per_second as it was. No labels.
package vmmetrics
