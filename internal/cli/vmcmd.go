package cli

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ethereum-optimism/optimism/cannon/mipsevm/program"
	"github.com/spf13/cobra"

	"github.com/proofd/proofd/atomicfile"
	"github.com/proofd/proofd/snapshot"
	"github.com/proofd/proofd/vm"
)

// vmCommand is Cannon's CLI (load-elf, run, witness) with Cannon's flags,
// on the vm package. Every input state may be a proofd snapshot or a Cannon
// .bin/.bin.gz file; output states are Cannon files when named .bin or
// .bin.gz and proofd snapshots otherwise.
func (a *app) vmCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "vm", Short: "run Cannon MIPS64 programs: load an ELF, run with proofs and snapshots, print a state's witness"}
	cmd.AddCommand(a.vmLoadELFCommand(), a.vmRunCommand(), a.vmWitnessCommand())
	return cmd
}

func (a *app) vmLoadELFCommand() *cobra.Command {
	var path, out, meta, typ string
	cmd := &cobra.Command{
		Use:   "load-elf --path ELF --out STATE [--meta META]",
		Short: "build a program's initial state from a MIPS64 ELF, as `cannon load-elf --type multithreaded64-5`",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if typ != vm.StateVersion.String() {
				return fmt.Errorf("--type %q: only %s is supported", typ, vm.StateVersion)
			}
			st, m, err := vm.LoadELF(path)
			if err != nil {
				return err
			}
			if err := writeMeta(a, meta, m); err != nil {
				return err
			}
			if err := vm.WriteState(out, st); err != nil {
				return err
			}
			if meta != "-" {
				fmt.Fprintf(a.stdout, "wrote %s: claim %s\n", out, vm.Claim(st).Hex())
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&path, "path", "", "MIPS64 big-endian ELF to load (required)")
	cmd.Flags().StringVar(&out, "out", "", "state to write: a Cannon file if it ends in .bin or .bin.gz, else a proofd snapshot (required)")
	cmd.Flags().StringVar(&meta, "meta", "", "write the symbol metadata JSON here (- for stdout; .gz gzips it)")
	cmd.Flags().StringVar(&typ, "type", vm.StateVersion.String(), "VM type; only "+vm.StateVersion.String())
	_ = cmd.MarkFlagRequired("path")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

func writeMeta(a *app, path string, m *program.Metadata) error {
	switch path {
	case "":
		return nil
	case "-":
		b, err := vm.EncodeJSON(m)
		if err != nil {
			return err
		}
		_, err = a.stdout.Write(b)
		return err
	}
	return vm.WriteJSONFile(path, m)
}

func (a *app) vmRunCommand() *cobra.Command {
	var cfg vm.RunConfig
	var meta string
	cmd := &cobra.Command{
		Use:   "run --input STATE [--output STATE] [--proof-at PAT] [--snapshot-at PAT] [--stop-at PAT] [--info-at PAT] [-- preimage-server cmd...]",
		Short: "run a state as `cannon run` does, writing proofs and snapshots at the steps the patterns match",
		Long: `Patterns: never, always, =N (step N), %N (every N steps, step 0 included).
Before each step, in this order: an info line at --info-at, stop at --stop-at,
a snapshot at --snapshot-at, and the step itself with a proof at --proof-at.
Nothing is written at or after the step where the program exits; the final
state goes to --output. Info lines are JSON on stderr, as are the guest's and
the preimage server's output; proofs go to stdout with --proof-fmt -.

A preimage server, if any, follows "--": it gets the hint channel on fds 3
and 4 and the preimage channel on fds 5 and 6, runs in its own process group
and is killed with it when the run ends or is interrupted.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 && cmd.ArgsLenAtDash() != 0 {
				return fmt.Errorf("unexpected argument %q: a preimage server command goes after --", args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg.Server = args
			if meta != "" {
				m, err := readMeta(meta)
				if err != nil {
					return err
				}
				cfg.Meta = m
			}
			cfg.GuestStdout, cfg.GuestStderr = a.stderr, a.stderr
			cfg.ServerStdout, cfg.ServerStderr = a.stderr, a.stderr
			cfg.Info, cfg.Proofs = a.stderr, a.stdout
			pr := a.progress("vm run", 0, unitSteps, cfg.ProofFmt == "-")
			cfg.Progress = func(n uint64) { pr.set(int64(n)) }
			err := vm.Run(cmd.Context(), cfg)
			pr.finish()
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Input, "input", "", "state to start from: a proofd snapshot or a Cannon .bin/.bin.gz (required)")
	f.StringVar(&cfg.Output, "output", "", "write the final state here (.bin/.bin.gz: Cannon's format, else a snapshot); not written if empty")
	f.StringVar(&cfg.ProofAt, "proof-at", "never", "step pattern to write proofs at")
	f.StringVar(&cfg.ProofFmt, "proof-fmt", vm.DefaultProofFmt, "proof file name, formatted with the step (- for stdout, .gz gzips)")
	f.StringVar(&cfg.SnapshotAt, "snapshot-at", "never", "step pattern to write state snapshots at")
	f.StringVar(&cfg.SnapshotFmt, "snapshot-fmt", vm.DefaultSnapshotFmt, "snapshot file name, formatted with the step (.bin/.bin.gz: Cannon's format, else a snapshot)")
	f.StringVar(&cfg.StopAt, "stop-at", "never", "step pattern to stop at")
	f.StringVar(&cfg.InfoAt, "info-at", vm.DefaultInfoAt, "step pattern to print a JSON progress line at")
	f.StringVar(&meta, "meta", "", "symbol metadata JSON from load-elf --meta, to name functions in info lines")
	f.IntVar(&cfg.Snapshot.PagesPerChunk, "pages-per-chunk", 0, "pages per zstd chunk in snapshots (default 64)")
	maxMemoryFlag(cmd, &cfg.Snapshot.MaxMemoryBytes)
	_ = cmd.MarkFlagRequired("input")
	return cmd
}

// readMeta reads a metadata file load-elf wrote, gunzipping a .gz one.
func readMeta(path string) (*program.Metadata, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--meta: %w", err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("--meta %s: %w", path, err)
		}
		defer zr.Close()
		r = zr
	}
	m := new(program.Metadata)
	if err := json.NewDecoder(r).Decode(m); err != nil {
		return nil, fmt.Errorf("--meta %s: %w", path, err)
	}
	return m, nil
}

func (a *app) vmWitnessCommand() *cobra.Command {
	var input, output string
	var opts snapshot.Options
	cmd := &cobra.Command{
		Use:   "witness --input STATE [--output FILE]",
		Short: "print a state's claim and witness as the JSON `cannon witness` prints",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := vm.LoadState(input, opts)
			if err != nil {
				return err
			}
			info := vm.Witness(st)
			if output != "" {
				if err := atomicfile.Write(output, info.Witness, 0o644); err != nil {
					return err
				}
			}
			b, err := vm.EncodeJSON(info)
			if err != nil {
				return err
			}
			_, err = a.stdout.Write(b)
			return err
		},
	}
	cmd.Flags().StringVar(&input, "input", "", "state: a proofd snapshot or a Cannon .bin/.bin.gz (required)")
	cmd.Flags().StringVar(&output, "output", "", "also write the binary witness to this file")
	maxMemoryFlag(cmd, &opts.MaxMemoryBytes)
	_ = cmd.MarkFlagRequired("input")
	return cmd
}
