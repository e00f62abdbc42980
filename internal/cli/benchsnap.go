package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/proofd/proofd/internal/bench"
)

// benchSnapshotCommand is "bench snapshot": proofd's snapshot format against
// Cannon's .bin.gz and .bin. Its hidden "child" subcommand is the process
// the benchmark starts to measure one write's peak RSS.
func (a *app) benchSnapshotCommand() *cobra.Command {
	var asJSON, quick bool
	var mib int
	var dir, guest string
	cmd := &cobra.Command{
		Use:   "snapshot [--json] [--mib N]",
		Short: "snapshot write, size, claim and load: proofd's format vs Cannon's .bin.gz and .bin",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rep, err := bench.Snapshot(cmd.Context(), bench.SnapshotConfig{MiB: mib, Quick: quick, Dir: dir, Progress: a.stderr})
			if err != nil {
				return err
			}
			opts, err := a.spawnOptions()
			if err != nil {
				return err
			}
			wp := bench.WarmProofConfig{Proofd: opts.Path, Guest: guest, Progress: a.stderr}
			if quick {
				wp.Reps = 3
			}
			if err := bench.WarmProof(cmd.Context(), rep, wp); err != nil {
				return fmt.Errorf("warm proofs: %w", err)
			}
			return a.writeReport(rep, asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object {bench, go, cpus, rows, ratios}: each row a case with n, median, min and max ms")
	cmd.Flags().IntVar(&mib, "mib", 0, "guest memory per state in MiB (default 300, or 8 with --quick)")
	cmd.Flags().BoolVar(&quick, "quick", false, "8 MiB states and 2 repetitions, for tests")
	cmd.Flags().StringVar(&guest, "guest", "testdata/guests/hello.elf", "MIPS64 guest ELF for the warm-proof comparison")
	cmd.Flags().StringVar(&dir, "dir", "", "where to write the files (default: a temp dir removed afterwards)")
	child := &cobra.Command{
		Use:    "child",
		Short:  "one write whose peak RSS bench snapshot measures (started by it)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			job := os.Getenv(bench.SnapshotChildEnv)
			if job == "" {
				return fmt.Errorf("bench snapshot child: %s is not set: bench snapshot starts this command", bench.SnapshotChildEnv)
			}
			return bench.SnapshotChild(job, a.stdout)
		},
	}
	cmd.AddCommand(child)
	return cmd
}
