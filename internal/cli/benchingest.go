package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/proofd/proofd/engine/pool"
	"github.com/proofd/proofd/internal/bench"
)

// benchIngestCommand is "bench ingest": the node's ingest API against raw
// pebble writes of the same records, and, with --under-proving, submit
// latency while a real node proves.
func (a *app) benchIngestCommand() *cobra.Command {
	var asJSON, underProving bool
	var blocks, rounds, clients int
	cmd := &cobra.Command{
		Use:   "ingest [--json] [--under-proving]",
		Short: "blocks accepted per second through the node's HTTP JSON API vs raw synced pebble writes of the same records; submit latency under proving",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg := bench.IngestConfig{Blocks: blocks, Rounds: rounds, Clients: clients, Progress: a.stderr}
			if underProving {
				fac, err := a.factoryWithHooks(1, pool.Hooks{})
				if err != nil {
					return err
				}
				defer fac.Close(context.WithoutCancel(cmd.Context()))
				cfg.Pool = fac
			}
			rep, err := bench.Ingest(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			return a.writeReport(rep, asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object {bench, go, cpus, rows, ratios}: each row a case with n, median, min and max ms")
	cmd.Flags().BoolVar(&underProving, "under-proving", false, "also measure submit latency while a real node proves (sets circuits up: about a minute more)")
	cmd.Flags().IntVar(&blocks, "blocks", 400, "blocks per round")
	cmd.Flags().IntVar(&rounds, "rounds", 5, "measured rounds after a warm-up; the cases alternate within each")
	cmd.Flags().IntVar(&clients, "clients", 4, "clients of the concurrent case")
	return cmd
}
