package poolmetrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/proofd/proofd/artifact"
	"github.com/proofd/proofd/engine/pool"
)

// Hooks registers the metrics with reg and returns hooks that update them.
func Hooks(reg prometheus.Registerer) (pool.Hooks, error) {
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
	poison := prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "poison_requests_total", Help: "Requests given up on because they kill engines."})
	for _, c := range []prometheus.Collector{poolSize, busy, waiting, starts, startTime, deaths, respawns, calls, callTime, teardown, poison} {
		if err := reg.Register(c); err != nil {
			return pool.Hooks{}, err
		}
	}
	result := func(err error) string {
		if err != nil {
			return "error"
		}
		return "ok"
	}
	return pool.Hooks{
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
		// The inputs are not a label: every poison request would make a
		// new series. They are in the error Do returns.
		Poison: func([]artifact.Digest) { poison.Inc() },
	}, nil
}
