package pipelinemetrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/proofd/proofd/pipeline"
)

// Options configure Observer.
type Options struct {
	// BundleSize is the pipeline's (pipeline.Config.BundleSize): how many
	// blocks one aggregate covers. Zero means the pipeline's default.
	BundleSize uint64
	// Now is the clock the latency histograms read; default time.Now.
	Now func() time.Time
}

// Observer registers the metrics with reg and returns the function that
// updates them from the shell's updates (ShellConfig.Observe). The function
// is not safe for concurrent use; the shell calls it from one goroutine.
func Observer(reg prometheus.Registerer, opts Options) (func(pipeline.Update), error) {
	if opts.BundleSize == 0 {
		opts.BundleSize = new(pipeline.Config).EnsureDefaults().BundleSize
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
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
	jobs := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "jobs", Help: "Live jobs (orphans excluded) by stage and what they wait for."}, []string{"stage", "state"})
	latency := prometheus.ExponentialBuckets(0.05, 2, 18) // 50 ms to about 2 h
	jobTime := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "job_seconds", Help: "Time from a block's acceptance to the publication of one of its proofs.",
		Buckets: latency}, stage)
	settleTime := prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "ingest_to_aggregate_seconds", Help: "Time from the acceptance of a bundle's earliest block to the publication of its aggregate.",
		Buckets: latency})
	for _, c := range []prometheus.Collector{blocks, reorgs, made, hits, published, retries, failures, prove, tip, pruned, jobs, jobTime, settleTime} {
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
	setDepth(jobs, [3]pipeline.Depth{})
	clk := newClocks(opts.BundleSize)
	return func(u pipeline.Update) {
		now := opts.Now()
		setDepth(jobs, u.Depth)
		switch {
		case u.Block != nil:
			clk.accept(*u.Block, now)
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
			if d, ok := clk.age(u.Published.Block, now); ok {
				jobTime.WithLabelValues(u.Published.Stage.String()).Observe(d.Seconds())
			}
			if u.Published.Stage == pipeline.StageAggregate {
				if d, ok := clk.settle(u.Published.Block, now); ok {
					settleTime.Observe(d.Seconds())
				}
			}
		case u.Retry != nil:
			retries.WithLabelValues(u.Retry.Stage.String()).Inc()
		case u.Failed != nil:
			failures.WithLabelValues(u.Failed.Stage.String()).Inc()
		case u.Pruned > 0:
			pruned.Set(float64(u.Pruned))
			clk.prune(u.Pruned)
		}
	}, nil
}

// setDepth sets the jobs gauge from an update's depth.
func setDepth(jobs *prometheus.GaugeVec, d [3]pipeline.Depth) {
	for st, n := range d {
		stage := pipeline.Stage(st).String()
		jobs.WithLabelValues(stage, "waiting").Set(float64(n.Waiting))
		jobs.WithLabelValues(stage, "queued").Set(float64(n.Queued))
		jobs.WithLabelValues(stage, "in_flight").Set(float64(n.InFlight))
		jobs.WithLabelValues(stage, "durable").Set(float64(n.Durable))
	}
}
