package pipelinemetrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/proofd/proofd/pipeline"
)

// Observer registers the metrics with reg and returns the function that
// updates them from the shell's updates (ShellConfig.Observe).
func Observer(reg prometheus.Registerer) (func(pipeline.Update), error) {
	const ns, sub = "proofd", "pipeline"
	stage := []string{"stage"}
	counter := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help}, stage)
	}
	blocks := prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "blocks_accepted_total", Help: "Blocks taken from the chain source."})
	reorgs := prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "reorgs_total", Help: "Blocks that moved the tip off its own chain."})
	made := counter("proofs_made_total", "Proofs made (engine calls that succeeded).")
	hits := counter("cache_hits_total", "Proofs found in the receipt store and checked.")
	published := counter("published_total", "Proofs published to the next stage.")
	retries := counter("retries_total", "Failed proofs to be retried.")
	failures := counter("failures_total", "Jobs failed for good.")
	prove := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "prove_seconds", Help: "Time to make and verify one proof.",
		Buckets: prometheus.ExponentialBuckets(0.01, 2, 14)}, stage)
	tip := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "tip_height", Help: "Height of the last accepted block."})
	pruned := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "pruned_through", Help: "Receipts are pruned through this height."})
	for _, c := range []prometheus.Collector{blocks, reorgs, made, hits, published, retries, failures, prove, tip, pruned} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	// Every stage's series exists from the start, at zero.
	for _, st := range []pipeline.Stage{pipeline.StageTx, pipeline.StageBatch, pipeline.StageAggregate} {
		for _, v := range []*prometheus.CounterVec{made, hits, published, retries, failures} {
			v.WithLabelValues(st.String())
		}
	}
	return func(u pipeline.Update) {
		switch {
		case u.Block != nil:
			blocks.Inc()
			tip.Set(float64(u.Block.Height))
			if u.Reorg {
				reorgs.Inc()
			}
		case u.Proved != nil:
			made.WithLabelValues(u.Proved.Stage.String()).Inc()
			prove.WithLabelValues(u.Proved.Stage.String()).Observe(u.Took.Seconds())
		case u.Hit != nil:
			hits.WithLabelValues(u.Hit.Stage.String()).Inc()
		case u.Published != nil:
			published.WithLabelValues(u.Published.Stage.String()).Inc()
		case u.Retry != nil:
			retries.WithLabelValues(u.Retry.Stage.String()).Inc()
		case u.Failed != nil:
			failures.WithLabelValues(u.Failed.Stage.String()).Inc()
		case u.Pruned > 0:
			pruned.Set(float64(u.Pruned))
		}
	}, nil
}
