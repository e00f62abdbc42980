package cli

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/proofd/proofd/engine/enginemetrics"
	"github.com/proofd/proofd/engine/pool/poolmetrics"
	"github.com/proofd/proofd/examples/rollup"
	"github.com/proofd/proofd/internal/node"
)

func (a *app) nodeCommand() *cobra.Command {
	var path string
	var check bool
	cmd := &cobra.Command{
		Use:   "node [--config FILE] [--check] [flags]",
		Short: "run a proving node: ingest API, pipeline on an engine pool, metrics",
		Long: "node follows a chain submitted through its HTTP ingest API (docs/ingest.md) and proves it\n" +
			"tx → batch → aggregate on a pool of engine processes, durably, through reorgs and restarts.\n" +
			"Every key is a YAML key of --config, a flag, and a PROOFD_* environment variable (dashes as\n" +
			"underscores); flags win over the environment, the environment over the file.\n" +
			"SIGTERM or Ctrl-C: stop taking blocks, let the pipeline finish for --shutdown-grace, exit 0.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := node.Load(path, cmd.Flags(), nil)
			if err != nil {
				return fmt.Errorf("node: invalid configuration:\n%w", err)
			}
			log, checked := a.configured(cfg.Effective(), check)
			if checked {
				return nil
			}
			reg := prometheus.NewRegistry()
			hooks, err := poolmetrics.Hooks(reg)
			if err != nil {
				return err
			}
			onRPC, err := enginemetrics.RPC(reg)
			if err != nil {
				return err
			}
			fac, err := a.nodeFactory(cfg, hooks, onRPC)
			if err != nil {
				return err
			}
			defer fac.Close(context.WithoutCancel(cmd.Context()))
			return node.Run(cmd.Context(), cfg, node.Options{Pool: fac, Registry: reg, Logger: log})
		},
	}
	cmd.Flags().StringVar(&path, "config", "", "YAML configuration file (examples/node.yaml)")
	cmd.Flags().BoolVar(&check, "check", false, "validate the configuration, print it as JSON, and exit")
	node.Flags(cmd.Flags())
	cmd.AddCommand(a.nodeSimulateCommand())
	return cmd
}

func (a *app) nodeSimulateCommand() *cobra.Command {
	var path string
	var sim rollup.SimConfig
	cmd := &cobra.Command{
		Use:   "simulate [--config FILE] [--blocks N] [--reorgs N] [--seed N]",
		Short: "print a simulated chain as ingest requests, one JSON object per line (see docs/ingest.md)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := node.Load(path, nil, nil)
			if err != nil {
				return err
			}
			sim.Params = cfg.Params()
			if sim.Reorgs == 0 {
				sim.Reorgs = -1 // rollup's "none"; its zero means the default
			}
			return node.WriteSimulated(a.stdout, sim)
		},
	}
	cmd.Flags().StringVar(&path, "config", "", "the node's configuration, for the circuit parameters")
	cmd.Flags().IntVar(&sim.Blocks, "blocks", 8, "height of the chain's final tip")
	cmd.Flags().IntVar(&sim.Reorgs, "reorgs", 1, "reorgs on the way; the first is a flip (A→B→A)")
	cmd.Flags().Int64Var(&sim.Seed, "seed", 1, "seed of the simulated chain")
	cmd.Flags().IntVar(&sim.FinalityDepth, "finality-depth", 0, "finalize marks trail the tip by this many blocks (default two bundles)")
	return cmd
}
