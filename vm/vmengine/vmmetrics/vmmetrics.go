package vmmetrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/proofd/proofd/vm/vmengine"
)

// Hooks registers the metrics with reg and returns the hooks that update
// them (vmengine.Options.Hooks).
func Hooks(reg prometheus.Registerer) (vmengine.Hooks, error) {
	const ns, sub = "proofd", "vm"
	steps := prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "steps_total", Help: "VM steps executed by completed runs."})
	speed := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "steps_per_second", Help: "Speed of the last completed run."})
	snaps := prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "snapshots_total", Help: "Snapshots the runs took (in-memory hashed copies of the VM state)."})
	snapBytes := prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "snapshot_bytes_total", Help: "Bytes of the snapshots the runs took."})
	for _, c := range []prometheus.Collector{steps, speed, snaps, snapBytes} {
		if err := reg.Register(c); err != nil {
			return vmengine.Hooks{}, err
		}
	}
	return vmengine.Hooks{
		Ran: func(n uint64, d time.Duration) {
			steps.Add(float64(n))
			if d > 0 {
				speed.Set(float64(n) / d.Seconds())
			}
		},
		Snapshot: func(n uint64) {
			snaps.Inc()
			snapBytes.Add(float64(n))
		},
	}, nil
}
