package enginemetrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/status"

	"github.com/proofd/proofd/engine"
)

// RPC registers the metrics with reg and returns the observer that updates
// them, for engine.SpawnOptions.OnRPC.
func RPC(reg prometheus.Registerer) (engine.RPCObserver, error) {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "proofd", Subsystem: "engine", Name: "rpc_seconds",
		Help:    "Latency of one RPC to an engine, by method and gRPC status code.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 18)}, []string{"op", "code"}) // 500 µs to about 65 s
	if err := reg.Register(h); err != nil {
		return nil, err
	}
	return func(method string, d time.Duration, err error) {
		h.WithLabelValues(method, status.Code(err).String()).Observe(d.Seconds())
	}, nil
}
