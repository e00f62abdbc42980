package receiptmetrics_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/proofd/proofd/receipts"
	"github.com/proofd/proofd/receipts/receiptmetrics"
)

func key(checkpoint uint64, kind receipts.Kind, index uint64) receipts.Key {
	return receipts.Key{Checkpoint: checkpoint, Block: [32]byte{byte(checkpoint)}, Kind: kind,
		Statement: receipts.StatementDigest(receipts.Field{Name: "n", Value: []byte{byte(index)}}), Index: index}
}

func put(t *testing.T, s *receipts.Store, keys ...receipts.Key) {
	t.Helper()
	for _, k := range keys {
		if err := s.Put(context.Background(), k, receipts.Receipt{Proof: make([]byte, 100+int(k.Index))}); err != nil {
			t.Fatal(err)
		}
	}
}

// A store that already holds receipts is opened with the hooks, as a node
// does after a restart: the gauges start from its Stats, follow the puts,
// and agree with Stats again after a prune.
func TestMetricsAgreeWithTheStore(t *testing.T) {
	dir := t.TempDir()
	s, err := receipts.Open(dir, receipts.Options{})
	if err != nil {
		t.Fatal(err)
	}
	put(t, s, key(1, receipts.KindTx, 0), key(1, receipts.KindTx, 1), key(2, receipts.KindBatch, 0))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	reg := prometheus.NewRegistry()
	m, err := receiptmetrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	s, err = receipts.Open(dir, receipts.Options{Hooks: m.Hooks()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := m.Track(s); err != nil {
		t.Fatal(err)
	}
	agree(t, "after Track", reg, s, map[receipts.Kind]int64{receipts.KindTx: 2, receipts.KindBatch: 1})
	put(t, s, key(2, receipts.KindTx, 0), key(8, receipts.KindAggregate, 8))
	agree(t, "after two puts", reg, s, map[receipts.Kind]int64{receipts.KindTx: 3, receipts.KindBatch: 1, receipts.KindAggregate: 1})
	if err := s.Prune(4); err != nil {
		t.Fatal(err)
	}
	agree(t, "after pruning through 4", reg, s, map[receipts.Kind]int64{receipts.KindAggregate: 1})

	if n := value(t, reg, "proofd_store_prunes_total", ""); n != 1 {
		t.Errorf("prunes_total %v, want 1", n)
	}
	if n, err := testutil.GatherAndCount(reg, "proofd_store_write_seconds"); err != nil || n != 1 {
		t.Fatalf("write_seconds: %d series, %v", n, err)
	}
	if n := value(t, reg, "proofd_store_write_seconds", ""); n != 2 {
		t.Errorf("write_seconds has %v samples, want the 2 puts since New", n)
	}
	m.Hooks().Put(receipts.KindTx, 10, time.Millisecond, errors.New("disk full"))
	if n := value(t, reg, "proofd_store_write_errors_total", ""); n != 1 {
		t.Errorf("write_errors_total %v, want 1", n)
	}
	agree(t, "after a failed put", reg, s, map[receipts.Kind]int64{receipts.KindAggregate: 1})
	if _, err := receiptmetrics.New(reg); err == nil {
		t.Fatal("registering twice succeeded")
	}
}

// agree checks the receipts and bytes gauges against s.Stats(), and the
// receipt counts against want.
func agree(t *testing.T, when string, reg *prometheus.Registry, s *receipts.Store, want map[receipts.Kind]int64) {
	t.Helper()
	stats, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range receipts.Kinds {
		if stats[k].Receipts != want[k] {
			t.Fatalf("%s: the store holds %d %s receipts, the test expects %d", when, stats[k].Receipts, k, want[k])
		}
		if got := value(t, reg, "proofd_store_receipts", k.String()); got != float64(stats[k].Receipts) {
			t.Errorf("%s: receipts{kind=%q} = %v, Stats %d", when, k, got, stats[k].Receipts)
		}
		if got := value(t, reg, "proofd_store_bytes", k.String()); got != float64(stats[k].Bytes) {
			t.Errorf("%s: bytes{kind=%q} = %v, Stats %d", when, k, got, stats[k].Bytes)
		}
	}
}

// value is the value of the series of name whose kind label is kind (any
// series when kind is empty): a gauge's or counter's value, a histogram's
// sample count.
func value(t *testing.T, reg *prometheus.Registry, name, kind string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if kind != "" && m.GetLabel()[0].GetValue() != kind {
				continue
			}
			switch {
			case m.Gauge != nil:
				return m.GetGauge().GetValue()
			case m.Counter != nil:
				return m.GetCounter().GetValue()
			case m.Histogram != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	t.Fatalf("no %s{kind=%q}", name, kind)
	return 0
}
