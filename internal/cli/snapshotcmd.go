package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/proofd/proofd/snapshot"
)

func (a *app) snapshotCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "snapshot", Short: "inspect, verify and convert VM state snapshots (docs/snapshot-format.md)"}
	cmd.AddCommand(a.snapshotInfoCommand(), a.snapshotVerifyCommand(), a.snapshotConvertCommand())
	return cmd
}

// snapshotInfo is what `snapshot info --json` prints.
type snapshotInfo struct {
	File             string `json:"file"`
	FormatVersion    uint16 `json:"format_version"`
	VM               string `json:"vm"`
	StateVersion     uint8  `json:"state_version"`
	StateVersionName string `json:"state_version_name"`
	Step             uint64 `json:"step"`
	Claim            string `json:"claim"`
	MemoryRoot       string `json:"memory_root"`
	PageCount        uint64 `json:"page_count"`
	PagesPerChunk    uint32 `json:"pages_per_chunk"`
	Witness          string `json:"witness"`
}

func (a *app) snapshotInfoCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "info FILE [--json]",
		Short: "print a snapshot's claim, step and memory size (reads only the header and footer)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			i, err := snapshot.ReadInfo(args[0])
			if err != nil {
				return err
			}
			out := snapshotInfo{
				File:             args[0],
				FormatVersion:    i.FormatVersion,
				VM:               i.Kind.String(),
				StateVersion:     uint8(i.StateVersion),
				StateVersionName: i.StateVersion.String(),
				Step:             i.Step,
				Claim:            i.Claim.Hex(),
				MemoryRoot:       i.MemoryRoot().Hex(),
				PageCount:        i.PageCount,
				PagesPerChunk:    i.PagesPerChunk,
				Witness:          fmt.Sprintf("0x%x", i.Witness),
			}
			if asJSON {
				return printJSON(a, out)
			}
			fmt.Fprintf(a.stdout, "file         %s\nvm           %s, state version %d (%s)\nstep         %d\nclaim        %s\nmemory root  %s\npages        %d (%.1f MiB) in chunks of %d\nwitness      %s\n",
				out.File, out.VM, out.StateVersion, out.StateVersionName, out.Step, out.Claim, out.MemoryRoot,
				out.PageCount, float64(out.PageCount)*snapshot.PageSize/(1<<20), out.PagesPerChunk, out.Witness)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (a *app) snapshotVerifyCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "verify FILE",
		Short: "check every checksum, page root, the memory root and the claim (exit 0 intact, 1 corrupt, 2 error)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			err := snapshot.Verify(args[0])
			if errors.Is(err, snapshot.ErrCorrupt) {
				return &negativeAnswer{msg: fmt.Sprintf("snapshot is CORRUPT: %v", err)}
			}
			if err != nil {
				return err
			}
			i, err := snapshot.ReadInfo(args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "snapshot %s is intact: claim %s at step %d\n", args[0], i.Claim.Hex(), i.Step)
			return nil
		},
	}
}

func (a *app) snapshotConvertCommand() *cobra.Command {
	var opts snapshot.Options
	cmd := &cobra.Command{
		Use:   "convert IN OUT",
		Short: "convert between Cannon's .bin/.bin.gz and a snapshot, bit-exactly (input format from its content, output format from OUT's name)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var size int64
			if fi, err := os.Stat(args[0]); err == nil {
				size = fi.Size()
			}
			pr := a.progress("snapshot convert "+filepath.Base(args[0]), size, unitBytes, false)
			opts.Progress = pr.set
			err := snapshot.Convert(args[0], args[1], opts)
			pr.finish()
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "wrote %s\n", args[1])
			return nil
		},
	}
	cmd.Flags().IntVar(&opts.PagesPerChunk, "pages-per-chunk", 0, "pages per zstd chunk when writing a snapshot (default 64)")
	cmd.Flags().IntVar(&opts.Workers, "workers", 0, "compression and hashing goroutines (default GOMAXPROCS)")
	maxMemoryFlag(cmd, &opts.MaxMemoryBytes)
	return cmd
}

// maxMemoryFlag adds --max-memory-bytes, the ceiling on the state a
// command reads (snapshot.Options.MaxMemoryBytes), so that a small
// compressed file cannot make it allocate without bound.
func maxMemoryFlag(cmd *cobra.Command, to *int64) {
	cmd.Flags().Int64Var(to, "max-memory-bytes", snapshot.DefaultMaxMemoryBytes,
		fmt.Sprintf("refuse an input state whose pages would take more host memory than this once loaded (%d bytes a page: data, hash cache, Merkle tree nodes)", snapshot.PageMemoryCost))
}
