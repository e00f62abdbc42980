package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/proofd/proofd/bb/bbengine"
	"github.com/proofd/proofd/engine/pool"
	"github.com/proofd/proofd/examples/rollup"
	"github.com/proofd/proofd/internal/bench"
)

func (a *app) benchCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "bench", Short: "benchmarks that print ratios against a baseline measured in the same run"}
	var asJSON, quick bool
	var reps int
	eng := &cobra.Command{
		Use:   "engine [--json]",
		Short: "prove and verify: gnark in-process vs a fresh engine per call vs a warm engine",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts, err := a.spawnOptions()
			if err != nil {
				return err
			}
			cfg := bench.EngineConfig{Spawn: opts, Reps: reps, Quick: quick, Progress: a.stderr}
			rep, err := bench.Engine(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			return a.writeReport(rep, asJSON)
		},
	}
	eng.Flags().BoolVar(&asJSON, "json", false, "print one JSON object {bench, go, cpus, rows, ratios}: each row a case with n, median, min and max ms")
	eng.Flags().BoolVar(&quick, "quick", false, "small circuits (2^8, 2^10) and few repetitions, for tests")
	eng.Flags().IntVar(&reps, "reps", 0, "repetitions per case (default: by size)")
	var poolJSON, poolQuick bool
	pool := &cobra.Command{
		Use:   "pool [--json]",
		Short: "verifications: gnark in-process vs a fresh engine per call vs a pool of 2; affinity vs none",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts, err := a.spawnOptions()
			if err != nil {
				return err
			}
			rep, err := bench.Pool(cmd.Context(), bench.PoolConfig{Spawn: opts, Quick: poolQuick, Progress: a.stderr})
			if err != nil {
				return err
			}
			return a.writeReport(rep, poolJSON)
		},
	}
	pool.Flags().BoolVar(&poolJSON, "json", false, "print one JSON object {bench, go, cpus, rows, ratios}: each row a case with n, median, min and max ms")
	pool.Flags().BoolVar(&poolQuick, "quick", false, "few repetitions, for tests")
	cmd.AddCommand(eng, pool, a.benchBBCommand(), a.benchSnapshotCommand(), a.benchPipelineCommand(), a.benchIngestCommand(), a.benchQueueCommand())
	return cmd
}

func (a *app) benchPipelineCommand() *cobra.Command {
	var asJSON, quick bool
	var engines, rounds int
	cmd := &cobra.Command{
		Use:   "pipeline [--json]",
		Short: "the proving pipeline on a simulated chain: wall time vs the same proofs alone, engine utilization, warm replay vs cold, receipt latency",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// The engines' busy time is what the pool's calls took.
			var busy atomic.Int64
			fac, err := a.factoryWithHooks(engines, pool.Hooks{Call: func(d time.Duration, _ error) { busy.Add(int64(d)) }})
			if err != nil {
				return err
			}
			defer fac.Close(context.WithoutCancel(cmd.Context()))
			sim := rollup.SimConfig{Params: rollup.Params{Depth: 8, TxsPerBlock: 2, BundleSize: 2}, Seed: 1, Blocks: 4, Reorgs: 1, FinalityDepth: 100}
			if quick {
				sim = rollup.SimConfig{Params: rollup.Params{Depth: 4, TxsPerBlock: 1, BundleSize: 2}, Seed: 1, Blocks: 2, Reorgs: -1, FinalityDepth: 100}
				rounds = 1
			}
			rep, err := bench.Pipeline(cmd.Context(), bench.PipelineConfig{Pool: fac, Engines: engines, Busy: func() time.Duration { return time.Duration(busy.Load()) }, Sim: sim, Rounds: rounds, Progress: a.stderr})
			if err != nil {
				return err
			}
			return a.writeReport(rep, asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object {bench, go, cpus, rows, ratios}")
	cmd.Flags().BoolVar(&quick, "quick", false, "a two-block chain and one round, for tests")
	cmd.Flags().IntVar(&engines, "engines", 1, "engine processes (1: a proof uses every core, so wall time compares with the sum of proofs)")
	cmd.Flags().IntVar(&rounds, "rounds", 3, "measured rounds after a warm-up that sets the keys up")
	return cmd
}

// writeReport prints a benchmark's report: one JSON object, or the table.
func (a *app) writeReport(rep *bench.Report, asJSON bool) error {
	if asJSON {
		return rep.WriteJSON(a.stdout)
	}
	rep.WriteTable(a.stdout)
	return nil
}

func (a *app) benchBBCommand() *cobra.Command {
	var asJSON, quick bool
	var bbFlag, noirDir string
	var threads int
	cmd := &cobra.Command{
		Use:   "bb [--json]",
		Short: "Noir proofs on the real bb: the bb CLI per call vs a fresh bb engine per call vs a pool of bb engines vs Go speaking msgpack to a warm bb",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			bb, _, err := bbengine.Locate(bbFlag)
			if err != nil {
				return err
			}
			if noirDir == "" {
				root, ok := bbengine.RepoRoot()
				if !ok {
					return fmt.Errorf("--noir-dir: not inside the proofd repository; name the directory holding tiny/ and hashchain/")
				}
				noirDir = filepath.Join(root, "testdata", "noir")
			}
			opts, err := a.spawnOptions()
			if err != nil {
				return err
			}
			rep, err := bench.BB(cmd.Context(), bench.BBConfig{Spawn: opts, BB: bb, Threads: threads, NoirDir: noirDir, Quick: quick, Progress: a.stderr})
			if err != nil {
				return err
			}
			return a.writeReport(rep, asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object {bench, go, cpus, rows, ratios}: each row a case with n, median, min and max ms")
	cmd.Flags().BoolVar(&quick, "quick", false, "one round of one call per case, for tests")
	cmd.Flags().StringVar(&bbFlag, "bb", "", "the bb binary (default: $PROOFD_BB, the project cache, then $PATH)")
	cmd.Flags().IntVar(&threads, "bb-threads", 0, "bb's threads on every path (0: one per core)")
	cmd.Flags().StringVar(&noirDir, "noir-dir", "", "the Noir fixtures, holding tiny/ and hashchain/ (default: testdata/noir of the repository)")
	return cmd
}

func (a *app) benchQueueCommand() *cobra.Command {
	var asJSON, quick bool
	var cfg bench.QueueConfig
	cmd := &cobra.Command{
		Use:   "queue [--json]",
		Short: "the same jobs through the local pool and through JetStream (an in-process nats-server and a worker): per-job overhead; artifact fetch cold vs cached",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts, err := a.spawnOptions()
			if err != nil {
				return err
			}
			cfg.Spawn, cfg.Progress = opts, a.stderr
			if quick {
				cfg.Log2, cfg.Rounds, cfg.Reps = 10, 1, 1
			}
			rep, err := bench.Queue(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			return a.writeReport(rep, asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object {bench, go, cpus, rows, ratios}: each row a case with n, median, min and max ms")
	cmd.Flags().BoolVar(&quick, "quick", false, "a 2^10 circuit, one round of one call per case, for tests")
	cmd.Flags().IntVar(&cfg.Log2, "log2", 16, "the proven MiMC circuit has about 2^log2 constraints (16: about a second's proof)")
	cmd.Flags().IntVar(&cfg.Rounds, "rounds", 5, "rounds; each ratio is reported as its median round with the smallest and largest")
	cmd.Flags().IntVar(&cfg.Reps, "reps", 3, "proofs per path per round (verifications: 10 times as many)")
	return cmd
}
