package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/proofd/proofd/examples/rollup"
	"github.com/proofd/proofd/examples/rollup/prover"
	"github.com/proofd/proofd/internal/chainrun"
	"github.com/proofd/proofd/pipeline"
	"github.com/proofd/proofd/receipts"
)

// PipelineConfig configures Pipeline.
type PipelineConfig struct {
	// Pool runs the proofs; Engines is its size (proofs at once). Busy
	// reports the engines' busy time so far: the sum of the pool's calls.
	Pool    prover.Pool
	Engines int
	Busy    func() time.Duration
	Sim     rollup.SimConfig
	Rounds  int
	// Writers and Puts shape the receipt latency case.
	Writers, Puts int
	Progress      io.Writer
}

// recorder is a pipeline.Prover that remembers every job it proved, and
// how long the prover took, so the same jobs can be proved again alone.
type recorder struct {
	pipeline.Prover
	mu   sync.Mutex
	jobs []recordedJob
}

type recordedJob struct {
	w pipeline.Work
	k receipts.Key
}

func (r *recorder) Prove(ctx context.Context, w pipeline.Work, k receipts.Key) (receipts.Receipt, error) {
	rc, err := r.Prover.Prove(ctx, w, k)
	if err == nil {
		r.mu.Lock()
		r.jobs = append(r.jobs, recordedJob{w, k})
		r.mu.Unlock()
	}
	return rc, err
}

// Pipeline measures the proving pipeline's orchestration overhead on a
// simulated chain: per round, a cold run (empty receipt store, keys
// cached), the same jobs proved again one after another with nothing
// around them, and a warm replay of the chain over the full store.
func Pipeline(ctx context.Context, cfg PipelineConfig) (*Report, error) {
	if cfg.Rounds == 0 {
		cfg.Rounds = 3
	}
	if cfg.Writers == 0 {
		cfg.Writers, cfg.Puts = 8, 200
	}
	if cfg.Engines == 0 {
		cfg.Engines = 1
	}
	if cfg.Busy == nil {
		return nil, fmt.Errorf("bench pipeline: Busy is required")
	}
	progress := cfg.Progress
	if progress == nil {
		progress = io.Discard
	}
	rep := newReport("pipeline")
	tmp, err := os.MkdirTemp("", "proofd-bench-pipeline-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	keys := filepath.Join(tmp, "keys")

	s := samples{}
	var overhead, util, speedup []float64
	for round := range cfg.Rounds + 1 {
		warmup := round == 0 // sets the keys up; not measured
		dir := filepath.Join(tmp, fmt.Sprintf("round-%d", round))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		if err := os.Symlink(keys, filepath.Join(dir, "keys")); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(keys, 0o700); err != nil {
			return nil, err
		}
		var rec *recorder
		busy0 := cfg.Busy()
		cold, err := chainrun.Run(ctx, chainrun.Config{
			Sim: cfg.Sim, DataDir: dir, Pool: cfg.Pool, MaxProving: cfg.Engines,
			WrapProver: func(p pipeline.Prover) pipeline.Prover { rec = &recorder{Prover: p}; return rec },
		})
		if err != nil {
			return nil, fmt.Errorf("cold run: %w", err)
		}
		busy := cfg.Busy() - busy0
		if warmup {
			fmt.Fprintf(progress, "warm-up: keys ready; %d proofs per run\n", len(rec.jobs))
			continue
		}
		// The same jobs, alone: one after another on the same pool.
		var alone time.Duration
		for _, j := range rec.jobs {
			start := time.Now()
			if _, err := rec.Prover.Prove(ctx, j.w, j.k); err != nil {
				return nil, fmt.Errorf("proving %s alone: %w", j.w.Job, err)
			}
			alone += time.Since(start)
		}
		// Warm: forget the accepted chain, keep the receipts, replay.
		if err := os.RemoveAll(filepath.Join(dir, "chain")); err != nil {
			return nil, err
		}
		warm, err := chainrun.Run(ctx, chainrun.Config{Sim: cfg.Sim, DataDir: dir, Pool: cfg.Pool, MaxProving: cfg.Engines})
		if err != nil {
			return nil, fmt.Errorf("warm replay: %w", err)
		}
		if made := warm.Report.Made; made != [3]int{} {
			return nil, fmt.Errorf("warm replay made proofs %v: the store missed", made)
		}
		s["pipeline cold"] = append(s["pipeline cold"], cold.PipelineWall)
		s["same proofs alone"] = append(s["same proofs alone"], alone)
		s["pipeline warm replay"] = append(s["pipeline warm replay"], warm.PipelineWall)
		overhead = append(overhead, float64(cold.PipelineWall)/float64(alone))
		// Busy covers the run's pool calls: every prove and verify (with
		// the keys cached, readying the circuits calls no engine).
		util = append(util, float64(busy)/float64(cold.PipelineWall*time.Duration(cfg.Engines)))
		speedup = append(speedup, float64(cold.PipelineWall)/float64(warm.PipelineWall))
		fmt.Fprintf(progress, "round %d: cold %.2f s over %d proofs, alone %.2f s, warm replay %.3f s\n",
			round, cold.PipelineWall.Seconds(), len(rec.jobs), alone.Seconds(), warm.PipelineWall.Seconds())
	}
	rep.addRows(s, []string{"pipeline cold", "same proofs alone", "pipeline warm replay"})
	rep.spread("wall_over_sum_of_proofs", overhead)
	rep.spread("engine_utilization", util)
	rep.spread("warm_replay_speedup", speedup)

	put, get, err := receiptLatency(ctx, tmp, cfg.Writers, cfg.Puts)
	if err != nil {
		return nil, err
	}
	for _, c := range []struct {
		name string
		d    []time.Duration
	}{{fmt.Sprintf("receipt put (%d writers)", cfg.Writers), put}, {fmt.Sprintf("receipt get (%d readers)", cfg.Writers), get}} {
		slices.Sort(c.d)
		rep.Rows = append(rep.Rows, Row{Case: c.name, N: len(c.d), MedianMS: msOf(median(c.d)), MinMS: msOf(c.d[0]), MaxMS: msOf(c.d[len(c.d)-1])})
		rep.Ratios[slug(c.name)+"_p50_ms"] = round3(msOf(c.d[len(c.d)/2]))
		rep.Ratios[slug(c.name)+"_p99_ms"] = round3(msOf(c.d[len(c.d)*99/100]))
	}
	return rep, nil
}

func slug(name string) string {
	if len(name) >= 11 && name[:11] == "receipt put" {
		return "receipt_put"
	}
	return "receipt_get"
}

// receiptLatency measures Put and Get latencies with writers goroutines
// each writing puts receipts of a batch proof's size, all at once.
func receiptLatency(ctx context.Context, tmp string, writers, puts int) (put, get []time.Duration, err error) {
	st, err := receipts.Open(filepath.Join(tmp, "latency"), receipts.Options{})
	if err != nil {
		return nil, nil, err
	}
	defer st.Close()
	proof := make([]byte, 600)
	key := func(w, i int) receipts.Key {
		k := receipts.Key{Checkpoint: uint64(i), Kind: receipts.KindTx, Index: uint64(w)}
		k.Block[0], k.Block[1] = byte(w), byte(i)
		return k
	}
	run := func(op func(w, i int) error) ([]time.Duration, error) {
		var mu sync.Mutex
		var all []time.Duration
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				local := make([]time.Duration, 0, puts)
				for i := range puts {
					start := time.Now()
					if err := op(w, i); err != nil {
						errs <- err
						return
					}
					local = append(local, time.Since(start))
				}
				mu.Lock()
				all = append(all, local...)
				mu.Unlock()
			}()
		}
		wg.Wait()
		close(errs)
		return all, <-errs
	}
	put, err = run(func(w, i int) error { return st.Put(ctx, key(w, i), receipts.Receipt{Proof: proof}) })
	if err != nil {
		return nil, nil, err
	}
	get, err = run(func(w, i int) error {
		_, ok, err := st.Get(key(w, i))
		if err == nil && !ok {
			err = fmt.Errorf("receipt %d/%d missing", w, i)
		}
		return err
	})
	return put, get, err
}
