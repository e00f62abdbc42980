package pipelinemetrics_test

import (
	"context"
	"crypto/sha256"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/proofd/proofd/pipeline"
	"github.com/proofd/proofd/pipeline/chainlog"
	"github.com/proofd/proofd/pipeline/pipelinemetrics"
	"github.com/proofd/proofd/receipts"
)

type events []pipeline.Event

func (e events) Event(_ context.Context, n uint64) (pipeline.Event, error) {
	if n >= uint64(len(e)) {
		return pipeline.Event{}, io.EOF
	}
	return e[n], nil
}

// hashProver's proofs are hashes of their keys.
type hashProver struct{}

func (hashProver) Key(w pipeline.Work) (receipts.Key, error) {
	fields := []receipts.Field{{Name: "payload", Value: w.Payload}}
	for _, in := range w.Inputs {
		fields = append(fields, receipts.Field{Name: "input", Value: in.Receipt.Proof})
	}
	return receipts.Key{Checkpoint: w.Job.Height, Block: w.Job.Block, Kind: receipts.Kind(w.Job.Stage) + receipts.KindTx,
		Statement: receipts.StatementDigest(fields...), Index: uint64(w.Job.Index)}, nil
}

func (hashProver) Prove(_ context.Context, _ pipeline.Work, k receipts.Key) (receipts.Receipt, error) {
	h := sha256.Sum256(k.Encode())
	return receipts.Receipt{Proof: h[:]}, nil
}

func (hashProver) Check(context.Context, pipeline.Work, receipts.Key, receipts.Receipt) error {
	return nil
}

func blk(fork byte, h uint64, parent pipeline.Hash) pipeline.Event {
	return pipeline.Event{Block: &pipeline.Block{Height: h, Hash: pipeline.Hash{fork, byte(h)}, Parent: parent, Txs: 1}, Payload: []byte{fork, byte(h)}}
}

// The metrics agree with the shell's own report of a real run over a real
// store: blocks, reorgs, proofs made, hits and publications per stage.
func TestMetricsAgreeWithTheRun(t *testing.T) {
	dir := t.TempDir()
	st, err := receipts.Open(dir+"/receipts", receipts.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	lg, err := chainlog.Open(dir+"/chain", chainlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer lg.Close()
	g := pipeline.Hash{9}
	a1, a2, b2 := blk(1, 1, g), blk(1, 2, pipeline.Hash{1, 1}), blk(2, 2, pipeline.Hash{1, 1})
	chain := events{a1, a2, b2, a2, {Finalize: 1}}

	reg := prometheus.NewRegistry()
	observe, err := pipelinemetrics.Observer(reg, pipelinemetrics.Options{BundleSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := pipeline.Run(context.Background(), pipeline.ShellConfig{
		Core: pipeline.Config{BundleSize: 2}, Genesis: pipeline.Checkpoint{Hash: g}, MaxUnsettled: 1,
		Source: chain, Log: lg, Store: st, Prover: hashProver{}, Observe: observe,
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := labelled(t, reg, "proofd_pipeline_reorgs_total", ""); got != float64(rep.Reorgs) || got == 0 {
		t.Errorf("reorgs_total %v, report %d", got, rep.Reorgs)
	}
	for st, name := range []string{"tx", "batch", "aggregate"} {
		for metric, want := range map[string]int{
			"proofd_pipeline_proofs_made_total": rep.Made[st],
			"proofd_pipeline_cache_hits_total":  rep.Hits[st],
			"proofd_pipeline_published_total":   rep.Published[st],
		} {
			if got := labelled(t, reg, metric, name); got != float64(want) {
				t.Errorf("%s{stage=%q} = %v, the run reports %d", metric, name, got, want)
			}
		}
	}
	if rep.Hits[pipeline.StageTx] == 0 {
		t.Errorf("the flip found nothing in the store: %+v", rep)
	}
	if n, err := testutil.GatherAndCount(reg, "proofd_pipeline_blocks_accepted_total"); err != nil || n != 1 {
		t.Errorf("blocks_accepted_total: %d series, %v", n, err)
	}
}

func labelled(t *testing.T, reg *prometheus.Registry, name, stage string) float64 {
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
			if stage == "" {
				return m.GetCounter().GetValue()
			}
			for _, l := range m.GetLabel() {
				if l.GetName() == "stage" && l.GetValue() == stage {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no %s{stage=%q}", name, stage)
	return 0
}

// tick is a clock that moves one second per reading.
func tick() func() time.Time {
	t := time.Unix(1_700_000_000, 0)
	return func() time.Time { t = t.Add(time.Second); return t }
}

// A real run over a linear chain: every publication is timed from its
// block's acceptance, every aggregate from its bundle's first block, and
// the job gauges end at zero with everything settled.
func TestLatencyOfARealRun(t *testing.T) {
	dir := t.TempDir()
	st, err := receipts.Open(dir+"/receipts", receipts.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	lg, err := chainlog.Open(dir+"/chain", chainlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer lg.Close()
	g := pipeline.Hash{9}
	chain := events{blk(1, 1, g)}
	for h := uint64(2); h <= 4; h++ {
		chain = append(chain, blk(1, h, pipeline.Hash{1, byte(h - 1)}))
	}
	chain = append(chain, pipeline.Event{Finalize: 4})

	reg := prometheus.NewRegistry()
	observe, err := pipelinemetrics.Observer(reg, pipelinemetrics.Options{BundleSize: 2, Now: tick()})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := pipeline.Run(context.Background(), pipeline.ShellConfig{
		Core: pipeline.Config{BundleSize: 2, MaxProving: 2}, Genesis: pipeline.Checkpoint{Hash: g},
		Source: chain, Log: lg, Store: st, Prover: hashProver{}, Observe: observe,
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Published != [3]int{4, 4, 2} {
		t.Fatalf("published %v, want 4 tx, 4 batch, 2 aggregate proofs", rep.Published)
	}
	for st, name := range []string{"tx", "batch", "aggregate"} {
		if n, _ := histogram(t, reg, "proofd_pipeline_job_seconds", name); n != uint64(rep.Published[st]) {
			t.Errorf("job_seconds{stage=%q}: %d samples, %d published", name, n, rep.Published[st])
		}
	}
	n, settle := histogram(t, reg, "proofd_pipeline_ingest_to_aggregate_seconds", "")
	_, agg := histogram(t, reg, "proofd_pipeline_job_seconds", "aggregate")
	if n != 2 || settle <= agg {
		t.Errorf("ingest_to_aggregate: %d samples summing %vs, want 2 summing over the aggregates' own %vs (timed from their bundles' last blocks)", n, settle, agg)
	}
	if got := jobsSum(t, reg); got != 0 {
		t.Errorf("jobs gauges sum to %v with everything settled", got)
	}
}

// Hand-made updates on a hand-made clock: the latencies are exact, a second
// publication of a settled bundle is not timed again, and the job gauges
// are the last update's depth.
func TestLatencyExact(t *testing.T) {
	reg := prometheus.NewRegistry()
	var now time.Time
	at := func(s int) { now = time.Unix(int64(s), 0) }
	observe, err := pipelinemetrics.Observer(reg, pipelinemetrics.Options{BundleSize: 2, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	b1 := pipeline.Block{Height: 1, Hash: pipeline.Hash{1}}
	b2 := pipeline.Block{Height: 2, Hash: pipeline.Hash{2}, Parent: b1.Hash}
	job := func(st pipeline.Stage, b pipeline.Block) *pipeline.JobID {
		return &pipeline.JobID{Stage: st, Height: b.Height, Block: b.Hash}
	}
	at(0)
	observe(pipeline.Update{Block: &b1})
	at(1)
	observe(pipeline.Update{Block: &b2})
	at(5)
	observe(pipeline.Update{Published: job(pipeline.StageTx, b1)})
	at(6)
	observe(pipeline.Update{Published: job(pipeline.StageBatch, b1)})
	at(7)
	observe(pipeline.Update{Published: job(pipeline.StageBatch, b2)})
	at(10)
	observe(pipeline.Update{Published: job(pipeline.StageAggregate, b2)})
	at(11)
	depth := [3]pipeline.Depth{{Waiting: 1, Queued: 2, InFlight: 3, Durable: 4}, {InFlight: 5}}
	observe(pipeline.Update{Published: job(pipeline.StageAggregate, b2), Depth: depth})

	for _, c := range []struct {
		name, stage string
		n           uint64
		sum         float64
	}{
		{"proofd_pipeline_job_seconds", "tx", 1, 5},
		{"proofd_pipeline_job_seconds", "batch", 2, 6 + 6},
		{"proofd_pipeline_job_seconds", "aggregate", 1, 9},
		{"proofd_pipeline_ingest_to_aggregate_seconds", "", 1, 10},
	} {
		if n, sum := histogram(t, reg, c.name, c.stage); n != c.n || sum != c.sum {
			t.Errorf("%s{stage=%q}: %d samples summing %v, want %d summing %v", c.name, c.stage, n, sum, c.n, c.sum)
		}
	}
	want := `
# HELP proofd_pipeline_jobs Live jobs (orphans excluded) by stage and what they wait for.
# TYPE proofd_pipeline_jobs gauge
proofd_pipeline_jobs{stage="aggregate",state="durable"} 0
proofd_pipeline_jobs{stage="aggregate",state="in_flight"} 0
proofd_pipeline_jobs{stage="aggregate",state="queued"} 0
proofd_pipeline_jobs{stage="aggregate",state="waiting"} 0
proofd_pipeline_jobs{stage="batch",state="durable"} 0
proofd_pipeline_jobs{stage="batch",state="in_flight"} 5
proofd_pipeline_jobs{stage="batch",state="queued"} 0
proofd_pipeline_jobs{stage="batch",state="waiting"} 0
proofd_pipeline_jobs{stage="tx",state="durable"} 4
proofd_pipeline_jobs{stage="tx",state="in_flight"} 3
proofd_pipeline_jobs{stage="tx",state="queued"} 2
proofd_pipeline_jobs{stage="tx",state="waiting"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "proofd_pipeline_jobs"); err != nil {
		t.Error(err)
	}
}

// histogram returns the sample count and sum of a histogram (with the
// given stage label, or unlabelled).
func histogram(t *testing.T, reg *prometheus.Registry, name, stage string) (uint64, float64) {
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
			if stage == "" || (len(m.GetLabel()) == 1 && m.GetLabel()[0].GetValue() == stage) {
				return m.GetHistogram().GetSampleCount(), m.GetHistogram().GetSampleSum()
			}
		}
	}
	return 0, 0
}

// jobsSum is the sum of every proofd_pipeline_jobs series, which must be
// one per stage and state.
func jobsSum(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum, series := 0.0, 0
	for _, mf := range mfs {
		if mf.GetName() == "proofd_pipeline_jobs" {
			for _, m := range mf.GetMetric() {
				sum += m.GetGauge().GetValue()
				series++
			}
		}
	}
	if series != 12 {
		t.Fatalf("proofd_pipeline_jobs has %d series, want 3 stages × 4 states", series)
	}
	return sum
}
