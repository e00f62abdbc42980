package natsqmetrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/proofd/proofd/artifact"
	"github.com/proofd/proofd/artifact/artcache"
	"github.com/proofd/proofd/queue"
	"github.com/proofd/proofd/queue/natsq"
)

// Client registers the node side's metrics in reg and returns the hooks
// that feed them.
func Client(reg prometheus.Registerer) (natsq.ClientHooks, error) {
	published := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "proofd_queue_published_total", Help: "Jobs published to JetStream, by kind, class and whether JetStream found them duplicates.",
	}, []string{"kind", "class", "duplicate"})
	answered := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "proofd_queue_answered_total", Help: "Jobs answered by a worker, by kind and outcome.",
	}, []string{"kind", "outcome"})
	wait := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "proofd_queue_wait_seconds", Help: "From a job's publication (or a kept result's lookup) to its answer.",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 20),
	})
	late := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "proofd_queue_late_results_total", Help: "Results nobody waited for: duplicates and answers to calls already answered. Dropped.",
	})
	uploaded := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "proofd_queue_uploaded_bytes_total", Help: "Artifact bytes uploaded to the JetStream object store.",
	})
	dead := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "proofd_queue_dead_lettered_total", Help: "This node's jobs it dead-lettered itself: every delivery JetStream allowed ended in a dead worker.",
	})
	if err := register(reg, published, answered, wait, late, uploaded, dead); err != nil {
		return natsq.ClientHooks{}, err
	}
	return natsq.ClientHooks{
		Published: func(kind, class string, dup bool) {
			published.WithLabelValues(kind, class, map[bool]string{true: "true", false: "false"}[dup]).Inc()
		},
		Answered: func(kind string, r queue.Result, d time.Duration) {
			answered.WithLabelValues(kind, natsq.Outcome(r)).Inc()
			wait.Observe(d.Seconds())
		},
		Late:         func(queue.Result) { late.Inc() },
		Uploaded:     func(_ artifact.Digest, n int) { uploaded.Add(float64(n)) },
		DeadLettered: func(string) { dead.Inc() },
	}, nil
}

// Worker registers a worker's metrics in reg and returns its hooks and the
// artifact cache's.
func Worker(reg prometheus.Registerer) (natsq.WorkerHooks, artcache.Hooks, error) {
	done := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "proofd_worker_jobs_total", Help: "Jobs a worker answered and acked, by class, outcome and whether they were redelivered to it.",
	}, []string{"class", "outcome", "redelivered"})
	took := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "proofd_worker_job_seconds", Help: "Time a job spent on the worker's engines (with its artifacts' fetch).",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 20),
	}, []string{"class"})
	dead := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "proofd_worker_dead_lettered_total", Help: "Jobs a worker dead-lettered, by class and why.",
	}, []string{"class", "why"})
	returned := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "proofd_worker_returned_total", Help: "Jobs handed back unfinished when a drain's grace ran out.",
	}, []string{"class"})
	hits := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "proofd_worker_artifact_hits_total", Help: "Artifacts found in the host's cache, by tier.",
	}, []string{"where"})
	fetched := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "proofd_worker_artifact_fetched_bytes_total", Help: "Artifact bytes downloaded from the object store.",
	})
	corrupt := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "proofd_worker_artifact_corrupt_total", Help: "Cached artifact files that failed their digest (removed and fetched again).",
	})
	if err := register(reg, done, took, dead, returned, hits, fetched, corrupt); err != nil {
		return natsq.WorkerHooks{}, artcache.Hooks{}, err
	}
	wh := natsq.WorkerHooks{
		Done: func(class, out string, redelivered bool, d time.Duration) {
			done.WithLabelValues(class, out, map[bool]string{true: "true", false: "false"}[redelivered]).Inc()
			took.WithLabelValues(class).Observe(d.Seconds())
		},
		Dead:     func(class, why string) { dead.WithLabelValues(class, why).Inc() },
		Returned: func(class string) { returned.WithLabelValues(class).Inc() },
	}
	ch := artcache.Hooks{
		Hit:     func(_ artifact.Digest, where string) { hits.WithLabelValues(where).Inc() },
		Fetched: func(_ artifact.Digest, n int, _ time.Duration) { fetched.Add(float64(n)) },
		Corrupt: func(artifact.Digest, string, error) { corrupt.Inc() },
	}
	return wh, ch, nil
}

func register(reg prometheus.Registerer, cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
