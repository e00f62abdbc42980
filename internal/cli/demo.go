package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/proofd/proofd/examples/rollup"
	"github.com/proofd/proofd/examples/rollup/prover"
	"github.com/proofd/proofd/internal/chainrun"
	"github.com/proofd/proofd/pipeline"
	"github.com/proofd/proofd/pipeline/pipelinemetrics"
	"github.com/proofd/proofd/snark"
)

type demoFlags struct {
	sim     rollup.SimConfig
	engines int
	dataDir string
	profile string
	// bundleSet: --bundle-size was given (the evm profile refuses any but 1).
	bundleSet bool
	json      bool
	metrics   bool
}

func (a *app) demoCommand() *cobra.Command {
	var f demoFlags
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "prove a simulated rollup chain, through reorgs, on a pool of engine processes",
		Long: "demo simulates a chain of real balance transfers with seeded reorgs (at least one\n" +
			"flip A→B→A) and proves it: a Groth16 proof per transaction (BLS12-377), a batch proof\n" +
			"per block verifying its transactions' proofs in-circuit (BW6-761), and an aggregate\n" +
			"proof per bundle of blocks (BN254). Receipts are durable in --data-dir; run again on\n" +
			"the same directory and nothing is proven twice, even after a kill -9.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.bundleSet = cmd.Flags().Changed("bundle-size")
			return a.demo(cmd.Context(), f)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&f.sim.Blocks, "blocks", 8, "height of the chain's final tip")
	fl.IntVar(&f.sim.TxsPerBlock, "txs-per-block", 2, "transfers per block (fixed by the batch circuit)")
	fl.IntVar(&f.sim.Reorgs, "reorgs", 2, "reorgs on the way; the first is a flip (A→B→A)")
	fl.Int64Var(&f.sim.Seed, "seed", 1, "seed of the simulated chain")
	fl.IntVar(&f.sim.BundleSize, "bundle-size", 4, "blocks per aggregate proof")
	fl.IntVar(&f.sim.Depth, "depth", 8, "depth of the balance tree")
	fl.IntVar(&f.engines, "engines", 2, "engine processes in the pool (proofs run at once)")
	fl.StringVar(&f.dataDir, "data-dir", "", "where keys, receipts and the accepted chain live (default: a temporary directory, removed at the end)")
	fl.StringVar(&f.profile, "profile", "default", "default (aggregate on BN254 binding the batch proofs) or evm (each block's batch proof verified in a BN254 "+
		"wrapper whose proof gnark's Solidity verifier accepts; bundle size 1; slow: millions of constraints)")
	fl.BoolVar(&f.json, "json", false, "print the final table as one JSON object")
	fl.BoolVar(&f.metrics, "metrics", false, "print the pool's and the pipeline's Prometheus metrics at the end")
	return cmd
}

// demoSummary is the final table; its JSON keys are a stable interface.
type demoSummary struct {
	Blocks        int            `json:"blocks"`
	Txs           int            `json:"txs"`
	ProofsMade    stageCounts    `json:"proofs_made"`
	CacheHits     int            `json:"cache_hits"`
	HitsByStage   stageCounts    `json:"cache_hits_by_stage"`
	Reorgs        int            `json:"reorgs"`
	Retries       int            `json:"retries"`
	Failed        int            `json:"failed"`
	FinalVerified bool           `json:"final_verified"`
	Settlement    uint64         `json:"settlement_height"`
	Replayed      int            `json:"events_replayed"`
	Resumed       int            `json:"jobs_resumed"`
	Setup         []demoSetupRow `json:"setup"`
	BundleSize    int            `json:"bundle_size"`
	Profile       string         `json:"profile"`
	Engines       int            `json:"engines"`
	WallSeconds   float64        `json:"wall_seconds"`
	DataDir       string         `json:"data_dir"`
}

type stageCounts struct {
	Tx        int `json:"tx"`
	Batch     int `json:"batch"`
	Aggregate int `json:"aggregate"`
}

func countsOf(c [3]int) stageCounts { return stageCounts{c[0], c[1], c[2]} }

type demoSetupRow struct {
	Stage        string  `json:"stage"`
	Curve        string  `json:"curve"`
	Constraints  int     `json:"constraints"`
	Cached       bool    `json:"cached"`
	SetupSeconds float64 `json:"setup_seconds"`
}

func (a *app) demo(ctx context.Context, f demoFlags) error {
	if f.engines < 1 {
		return fmt.Errorf("--engines %d: need at least 1", f.engines)
	}
	switch f.profile {
	case prover.ProfileDefault:
	case prover.ProfileEVM:
		// Each block settles on its own: the wrapper verifies one batch proof.
		if f.bundleSet && f.sim.BundleSize != 1 {
			return fmt.Errorf("--profile evm --bundle-size %d: the evm profile settles each block on its own (its BN254 wrapper verifies one batch proof); use --bundle-size 1 or leave it out", f.sim.BundleSize)
		}
		f.sim.BundleSize = 1
	default:
		return fmt.Errorf("--profile %q: want %s or %s", f.profile, prover.ProfileDefault, prover.ProfileEVM)
	}
	if err := f.sim.Params.Validate(); err != nil {
		return err
	}
	switch {
	case f.sim.Reorgs < 0:
		return fmt.Errorf("--reorgs %d: negative", f.sim.Reorgs)
	case f.sim.Reorgs == 0:
		f.sim.Reorgs = -1 // rollup.SimConfig's "none"; its zero means the default
	}
	dir := f.dataDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "proofd-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	reg := prometheus.NewRegistry()
	fac, err := a.factory(f.engines, reg)
	if err != nil {
		return err
	}
	defer fac.Close(context.WithoutCancel(ctx))

	observeMetrics, err := pipelinemetrics.Observer(reg, pipelinemetrics.Options{BundleSize: uint64(f.sim.BundleSize)})
	if err != nil {
		return err
	}
	disp := a.newDemoDisplay(f)
	fmt.Fprintf(a.stderr, "demo: %d blocks of %d transfers, %d reorgs (seed %d), %d engine processes, data in %s\n",
		f.sim.Blocks, f.sim.TxsPerBlock, f.sim.Reorgs, f.sim.Seed, f.engines, dir)
	res, err := chainrun.Run(ctx, chainrun.Config{
		Sim: f.sim, Profile: f.profile, DataDir: dir, Pool: fac, MaxProving: f.engines,
		// The chain arrives a block at a time, as the last one settles, so
		// each fork is proven before the next reorg: a flip back then finds
		// its proofs in the store instead of never having made them.
		MaxUnsettled: 1,
		Observe:      func(u pipeline.Update) { disp.update(u); observeMetrics(u) },
		Setup:        disp.setup, Logger: a.logger(),
	})
	disp.finish()
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	sum := summarize(res, f.engines, dir)
	sum.BundleSize = f.sim.BundleSize
	sum.Profile = f.profile
	if f.dataDir == "" {
		sum.DataDir = ""
	}
	if f.json {
		enc := json.NewEncoder(a.stdout)
		if err := enc.Encode(sum); err != nil {
			return err
		}
	} else {
		printSummary(a.stdout, sum)
	}
	if f.metrics {
		if err := writeMetrics(a.stdout, reg); err != nil {
			return err
		}
	}
	if sum.Failed > 0 {
		return fmt.Errorf("demo: %d jobs failed for good, first: %w", sum.Failed, res.Report.Failed[0])
	}
	if !sum.FinalVerified {
		return fmt.Errorf("demo: no final aggregate proof was verified")
	}
	return nil
}

func summarize(res *chainrun.Result, engines int, dir string) demoSummary {
	rep := res.Report
	s := demoSummary{
		Blocks: res.Blocks, Txs: res.Txs,
		ProofsMade: countsOf(rep.Made), HitsByStage: countsOf(rep.Hits),
		CacheHits: rep.Hits[0] + rep.Hits[1] + rep.Hits[2],
		Reorgs:    rep.Reorgs, Retries: rep.Retries, Failed: len(rep.Failed),
		FinalVerified: res.FinalVerified, Replayed: rep.Replayed, Resumed: rep.Resumed,
		Engines: engines, WallSeconds: res.Wall.Seconds(), DataDir: dir,
	}
	if rep.Settlement != nil {
		s.Settlement = rep.Settlement.Job.Height
	}
	for _, st := range res.Setup {
		s.Setup = append(s.Setup, setupRow(st))
	}
	return s
}

func setupRow(st prover.StageSetup) demoSetupRow {
	return demoSetupRow{Stage: st.Stage.String(), Curve: snark.CurveName(st.Curve), Constraints: st.Constraints,
		Cached: st.Cached, SetupSeconds: st.Setup.Seconds()}
}

func printSummary(w io.Writer, s demoSummary) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "blocks\t%d\n", s.Blocks)
	fmt.Fprintf(tw, "transactions\t%d\n", s.Txs)
	fmt.Fprintf(tw, "proofs made\ttx %d, batch %d, aggregate %d\n", s.ProofsMade.Tx, s.ProofsMade.Batch, s.ProofsMade.Aggregate)
	fmt.Fprintf(tw, "cache hits\ttx %d, batch %d, aggregate %d\n", s.HitsByStage.Tx, s.HitsByStage.Batch, s.HitsByStage.Aggregate)
	fmt.Fprintf(tw, "reorgs\t%d\n", s.Reorgs)
	fmt.Fprintf(tw, "retries\t%d\n", s.Retries)
	if s.Failed > 0 {
		fmt.Fprintf(tw, "failed\t%d\n", s.Failed)
	}
	if s.Replayed > 0 {
		fmt.Fprintf(tw, "resumed\t%d logged events replayed, %d jobs were in flight\n", s.Replayed, s.Resumed)
	}
	for _, r := range s.Setup {
		how := "keys cached"
		if !r.Cached {
			how = fmt.Sprintf("setup %.1f s", r.SetupSeconds)
		}
		fmt.Fprintf(tw, "%s circuit\t%s, %d constraints, %s\n", r.Stage, r.Curve, r.Constraints, how)
	}
	verified := "NOT verified"
	if s.FinalVerified {
		verified = "verified"
	}
	switch {
	case s.Settlement == 0:
		fmt.Fprintf(tw, "final aggregate\tnone (fewer blocks than a bundle)\n")
	case s.Profile == prover.ProfileEVM:
		fmt.Fprintf(tw, "final wrap\tblock %d, %s (for the Solidity verifier: proofd calldata --solidity-target)\n", s.Settlement, verified)
	default:
		fmt.Fprintf(tw, "final aggregate\tblocks %d..%d, %s\n", s.Settlement-uint64(s.BundleSize)+1, s.Settlement, verified)
	}
	fmt.Fprintf(tw, "wall\t%.1f s\n", s.WallSeconds)
	tw.Flush()
}
