package receiptmetrics

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/proofd/proofd/receipts"
)

// Stats is what Track reads the gauges from (a *receipts.Store).
type Stats interface {
	Stats() (map[receipts.Kind]receipts.KindStats, error)
}

// Metrics are the store's metrics, registered by New.
type Metrics struct {
	receipts    *prometheus.GaugeVec
	bytes       *prometheus.GaugeVec
	prunes      prometheus.Counter
	writeTime   prometheus.Histogram
	writeErrors prometheus.Counter
	store       atomic.Pointer[Stats] // set by Track
}

// New registers the store's metrics with reg.
func New(reg prometheus.Registerer) (*Metrics, error) {
	const ns, sub = "proofd", "store"
	m := &Metrics{
		receipts: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "receipts", Help: "Receipts stored, by kind."}, []string{"kind"}),
		bytes:    prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "bytes", Help: "Bytes of the stored receipts' keys and values, by kind."}, []string{"kind"}),
		prunes:   prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "prunes_total", Help: "Prunes that succeeded."}),
		writeTime: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "write_seconds", Help: "Time of one successful durable Put.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}), // 100 µs to about 3 s
		writeErrors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "write_errors_total", Help: "Puts and Prunes the database failed."}),
	}
	for _, c := range []prometheus.Collector{m.receipts, m.bytes, m.prunes, m.writeTime, m.writeErrors} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	m.set(nil)
	return m, nil
}

// Hooks are what to pass in receipts.Options.
func (m *Metrics) Hooks() receipts.Hooks {
	return receipts.Hooks{Put: m.put, Prune: m.prune}
}

// Track seeds the gauges from s.Stats() (a full scan) and has every later
// successful prune read them again.
func (m *Metrics) Track(s Stats) error {
	m.store.Store(&s)
	return m.reread()
}

func (m *Metrics) put(kind receipts.Kind, n int, d time.Duration, err error) {
	if err != nil {
		m.writeErrors.Inc()
		return
	}
	m.writeTime.Observe(d.Seconds())
	m.receipts.WithLabelValues(kind.String()).Inc()
	m.bytes.WithLabelValues(kind.String()).Add(float64(n))
}

func (m *Metrics) prune(_ uint64, _ time.Duration, err error) {
	if err != nil {
		m.writeErrors.Inc()
		return
	}
	m.prunes.Inc()
	// A failed re-read leaves the gauges as they were; the next prune
	// tries again.
	_ = m.reread()
}

func (m *Metrics) reread() error {
	s := m.store.Load()
	if s == nil {
		return nil
	}
	stats, err := (*s).Stats()
	if err != nil {
		return err
	}
	m.set(stats)
	return nil
}

// set sets the gauges of every kind (zero for a kind stats lacks).
func (m *Metrics) set(stats map[receipts.Kind]receipts.KindStats) {
	for _, k := range receipts.Kinds {
		m.receipts.WithLabelValues(k.String()).Set(float64(stats[k].Receipts))
		m.bytes.WithLabelValues(k.String()).Set(float64(stats[k].Bytes))
	}
}
