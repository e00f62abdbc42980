package hostmetrics

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/proofd/proofd/engine/host"
)

// CallDone registers the metrics with reg and returns the hook that updates
// them (host.Hooks.CallDone).
func CallDone(reg prometheus.Registerer) (func(host.Call), error) {
	const ns, sub = "proofd", "engine_host"
	calls := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "calls_total", Help: "Calls the engine served, by method and gRPC status code."}, []string{"method", "code"})
	took := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "call_seconds", Help: "Time to serve one call.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 18)}, []string{"method"}) // 500 µs to about 65 s
	for _, c := range []prometheus.Collector{calls, took} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return func(c host.Call) {
		m := shortMethod(c.Method)
		calls.WithLabelValues(m, c.Code.String()).Inc()
		took.WithLabelValues(m).Observe(c.Duration.Seconds())
	}, nil
}

// shortMethod is the last element of a full gRPC method name
// ("/proofd.engine.v1.Snark/Prove" → "Prove").
func shortMethod(full string) string { return full[strings.LastIndexByte(full, '/')+1:] }
