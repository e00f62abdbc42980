package pipelinemetrics_test

import (
	"context"
	"crypto/sha256"
	"io"
	"testing"

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
	observe, err := pipelinemetrics.Observer(reg)
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
