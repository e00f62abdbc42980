// Package enginemetrics exports an engine factory's hooks as Prometheus
// metrics. The engine package itself does not import Prometheus (hooks are
// plain functions); this adapter is what the CLI and the node register.
//
// Metrics (namespace proofd_engine_):
//
//	pool_size                 gauge      configured pool size (0: fresh engine per call)
//	busy                      gauge      engines on lease
//	waiting                   gauge      callers waiting for an engine
//	starts_total{result}      counter    engine starts, result=ok|error
//	start_seconds             histogram  time to start an engine
//	deaths_total              counter    pooled engines found dead
//	respawns_total            counter    dead engines replaced
//	calls_total{result}       counter    Do attempts, result=ok|error
//	call_seconds              histogram  Do attempt latency
//	teardown_errors_total     counter    errors stopping an engine
package enginemetrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/proofd/proofd/engine"
)

// Hooks registers the metrics with reg and returns hooks that update them.
func Hooks(reg prometheus.Registerer) (engine.Hooks, error) {
	const ns, sub = "proofd", "engine"
	poolSize := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "pool_size", Help: "Configured pool size (0: a fresh engine per call)."})
	busy := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "busy", Help: "Engines on lease."})
	waiting := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "waiting", Help: "Callers waiting for an engine."})
	starts := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "starts_total", Help: "Engine starts."}, []string{"result"})
	startTime := prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "start_seconds", Help: "Time to start an engine.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 12)})
	deaths := prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "deaths_total", Help: "Pooled engines found dead."})
	respawns := prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "respawns_total", Help: "Dead engines replaced."})
	calls := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "calls_total", Help: "Attempts made by Do."}, []string{"result"})
	callTime := prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "call_seconds", Help: "Latency of Do attempts.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 18)})
	teardown := prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "teardown_errors_total", Help: "Errors stopping an engine."})
	for _, c := range []prometheus.Collector{poolSize, busy, waiting, starts, startTime, deaths, respawns, calls, callTime, teardown} {
		if err := reg.Register(c); err != nil {
			return engine.Hooks{}, err
		}
	}
	result := func(err error) string {
		if err != nil {
			return "error"
		}
		return "ok"
	}
	return engine.Hooks{
		PoolSize: func(n int) { poolSize.Set(float64(n)) },
		Load: func(b, w int) {
			busy.Set(float64(b))
			waiting.Set(float64(w))
		},
		Started: func(d time.Duration, err error) {
			starts.WithLabelValues(result(err)).Inc()
			startTime.Observe(d.Seconds())
		},
		Died:      func(string) { deaths.Inc() },
		Respawned: func() { respawns.Inc() },
		Call: func(d time.Duration, err error) {
			calls.WithLabelValues(result(err)).Inc()
			callTime.Observe(d.Seconds())
		},
		Teardown: func(error) { teardown.Inc() },
	}, nil
}
