package cli

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/proofd/proofd/artifact"
	"github.com/proofd/proofd/atomicfile"
	"github.com/proofd/proofd/bb/bbengine"
	"github.com/proofd/proofd/bb/crs"
	"github.com/proofd/proofd/bb/noirfile"
	"github.com/proofd/proofd/engine"
	"github.com/proofd/proofd/engine/noirclient"
)

// noirFlags are the flags every `proofd noir` command shares.
type noirFlags struct {
	bb      string
	threads int
}

// noirCommand is `proofd noir`: Noir circuits (circuit.json, witness.gz)
// proved and verified by a spawned bb engine. Files are bb's own: proof,
// public inputs and vk as `bb prove` and `bb write_vk` write them.
func (a *app) noirCommand() *cobra.Command {
	nf := &noirFlags{}
	cmd := &cobra.Command{
		Use:   "noir",
		Short: "Noir circuits on Aztec's bb (UltraHonk), through a bb engine",
		Long: "Noir circuits (the circuit.json artifact nargo or noir_wasm write, and a witness.gz) proved\n" +
			"and verified by a spawned bb engine (proofd engine serve --kind bb). Proofs, public inputs\n" +
			"and verifying keys are bb's own files: `bb verify` reads what `proofd noir prove` writes, and\n" +
			"the other way round.\n\n" +
			"bb is --bb PATH, else $PROOFD_BB, else .cache/bb/5.0.0/bb in the proofd repository holding\n" +
			"the working directory (scripts/install-bb.sh installs it), else bb on $PATH.",
	}
	cmd.PersistentFlags().StringVar(&nf.bb, "bb", "", "the bb binary (default: $PROOFD_BB, the project cache, then $PATH)")
	cmd.PersistentFlags().IntVar(&nf.threads, "bb-threads", 0, "bb's threads (0: one per core)")
	cmd.AddCommand(a.noirProveCommand(nf), a.noirVerifyCommand(nf), a.noirVkCommand(nf), a.noirStatsCommand(nf),
		a.noirCheckCommand(nf), a.noirSolidityCommand(nf), a.noirCRSCommand())
	return cmd
}

// withBB runs fn on a fresh bb engine process and stops it.
func (a *app) withBB(ctx context.Context, nf *noirFlags, fn func(*noirclient.Client) error) error {
	bb, from, err := bbengine.Locate(nf.bb)
	if err != nil {
		return err
	}
	opts, err := a.spawnOptions()
	if err != nil {
		return err
	}
	opts.Args = append(slices.Clone(opts.Args), "--kind", "bb", "--bb", bb, "--bb-threads", strconv.Itoa(nf.threads))
	a.logger().Debug("bb engine", "bb", bb, "from", from)
	c, err := engine.Spawn(ctx, opts)
	if err != nil {
		return err
	}
	nc := noirclient.New(c)
	nc.BB = bb
	err = fn(nc)
	if cerr := c.Close(); cerr != nil && err == nil {
		err = cerr
	}
	return err
}

// readCircuit reads a Noir program artifact (--circuit) as ACIR bytecode.
func readCircuit(path string) (artifact.Artifact, error) {
	if path == "" {
		return artifact.Artifact{}, fmt.Errorf("--circuit is required")
	}
	acir, err := noirfile.Circuit(path)
	if err != nil {
		return artifact.Artifact{}, fmt.Errorf("--%w", err)
	}
	return artifact.New(acir), nil
}

// readWitness reads a gzipped Noir witness (--witness).
func readWitness(path string) ([]byte, error) {
	if path == "" {
		return nil, fmt.Errorf("--witness is required")
	}
	w, err := noirfile.Witness(path)
	if err != nil {
		return nil, fmt.Errorf("--%w", err)
	}
	return w, nil
}

func checkOracle(h string) error {
	if _, err := noirclient.OracleToProto(h); err != nil {
		return fmt.Errorf("--oracle-hash: %w", err)
	}
	return nil
}

const oracleUsage = "the transcript hash: poseidon2 (bb's default target) or keccak (bb's -t evm, for the Solidity verifier)"

func (a *app) noirProveCommand(nf *noirFlags) *cobra.Command {
	var circuitPath, witnessPath, proofPath, publicPath, vkPath, oracleHash string
	cmd := &cobra.Command{
		Use:   "prove --circuit F --witness F --proof F --public F [--vk F] [--oracle-hash poseidon2|keccak]",
		Short: "prove a Noir witness; writes bb's proof and public_inputs (and vk)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if proofPath == "" || publicPath == "" {
				return fmt.Errorf("--proof and --public are required")
			}
			if err := checkOracle(oracleHash); err != nil {
				return err
			}
			circuit, err := readCircuit(circuitPath)
			if err != nil {
				return err
			}
			wit, err := readWitness(witnessPath)
			if err != nil {
				return err
			}
			in := files{"circuit": circuitPath, "witness": witnessPath, "oracle_hash": oracleHash}
			return a.withBB(cmd.Context(), nf, func(c *noirclient.Client) error {
				name := circuitName(circuitPath)
				pr := a.progress("prove "+name, 0, unitNone, false)
				res, err := c.Prove(cmd.Context(), noirclient.ProveRequest{Name: name, Circuit: circuit, Witness: wit,
					OracleHash: oracleHash, WithVK: vkPath != ""})
				shown := pr.finish()
				if err != nil {
					return in.explain(err)
				}
				if shown {
					a.stageTimings("prove "+name, res.Timings)
				}
				entries := []atomicfile.Entry{
					{Path: proofPath, Perm: 0o644, Fill: atomicfile.Data(res.Proof)},
					{Path: publicPath, Perm: 0o644, Fill: atomicfile.Data(res.Public)},
				}
				if vkPath != "" {
					entries = append(entries, atomicfile.Entry{Path: vkPath, Perm: 0o644, Fill: atomicfile.Data(res.VK.Data)})
				}
				if err := atomicfile.WriteGroup(atomicfile.OSFS{}, entries...); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "proof %s (%d bytes), public inputs %s (%d)", proofPath, len(res.Proof), publicPath, len(res.Public)/32)
				if vkPath != "" {
					fmt.Fprintf(a.stdout, ", vk %s", vkPath)
				}
				fmt.Fprintf(a.stdout, "  %s\n", formatTimings(res.Timings))
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&circuitPath, "circuit", "", "Noir program artifact (circuit.json)")
	f.StringVar(&witnessPath, "witness", "", "witness (witness.gz, as nargo execute writes it)")
	f.StringVar(&proofPath, "proof", "", "where to write the proof (bb's proof file)")
	f.StringVar(&publicPath, "public", "", "where to write the public inputs (bb's public_inputs file)")
	f.StringVar(&vkPath, "vk", "", "also write the verifying key here (bb's vk file)")
	f.StringVar(&oracleHash, "oracle-hash", noirclient.Poseidon2, oracleUsage)
	return cmd
}

func (a *app) noirVerifyCommand(nf *noirFlags) *cobra.Command {
	var vkPath, proofPath, publicPath, oracleHash string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "verify --vk F --proof F --public F [--oracle-hash poseidon2|keccak]",
		Short: "verify a bb proof: exit 0 valid, 1 invalid, 2 error",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOracle(oracleHash); err != nil {
				return err
			}
			vk, err := readInput("vk", vkPath)
			if err != nil {
				return err
			}
			proof, err := readInput("proof", proofPath)
			if err != nil {
				return err
			}
			pub, err := readInput("public", publicPath)
			if err != nil {
				return err
			}
			in := files{"vk": vkPath, "proof": proofPath, "public": publicPath, "oracle_hash": oracleHash}
			return a.withBB(cmd.Context(), nf, func(c *noirclient.Client) error {
				res, err := c.Verify(cmd.Context(), noirclient.VerifyRequest{Name: circuitName(vkPath), VK: artifact.New(vk),
					Proof: proof, Public: pub, OracleHash: oracleHash})
				if err != nil {
					return in.explain(err)
				}
				return a.verdict(asJSON, proofPath, res)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&vkPath, "vk", "", "verifying key (bb's vk file)")
	f.StringVar(&proofPath, "proof", "", "proof (bb's proof file)")
	f.StringVar(&publicPath, "public", "", "public inputs (bb's public_inputs file)")
	f.StringVar(&oracleHash, "oracle-hash", noirclient.Poseidon2, "the oracle hash the proof was made with")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

func (a *app) noirVkCommand(nf *noirFlags) *cobra.Command {
	var circuitPath, out, oracleHash string
	cmd := &cobra.Command{
		Use:   "vk --circuit F --out F [--oracle-hash poseidon2|keccak]",
		Short: "write a Noir circuit's verifying key (as bb write_vk does)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return fmt.Errorf("--out is required")
			}
			if err := checkOracle(oracleHash); err != nil {
				return err
			}
			circuit, err := readCircuit(circuitPath)
			if err != nil {
				return err
			}
			return a.withBB(cmd.Context(), nf, func(c *noirclient.Client) error {
				res, err := c.Vk(cmd.Context(), circuitName(circuitPath), circuit, oracleHash)
				if err != nil {
					return files{"circuit": circuitPath, "oracle_hash": oracleHash}.explain(err)
				}
				if err := atomicfile.Write(out, res.VK.Data, 0o644); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "vk %s (%d bytes)  %s\n", out, len(res.VK.Data), formatTimings(res.Timings))
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&circuitPath, "circuit", "", "Noir program artifact (circuit.json)")
	cmd.Flags().StringVar(&out, "out", "", "where to write the verifying key")
	cmd.Flags().StringVar(&oracleHash, "oracle-hash", noirclient.Poseidon2, oracleUsage)
	return cmd
}

func (a *app) noirStatsCommand(nf *noirFlags) *cobra.Command {
	var circuitPath string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "stats --circuit F [--json]",
		Short: "a Noir circuit's size as bb counts it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			circuit, err := readCircuit(circuitPath)
			if err != nil {
				return err
			}
			return a.withBB(cmd.Context(), nf, func(c *noirclient.Client) error {
				st, err := c.Stats(cmd.Context(), circuitName(circuitPath), circuit)
				if err != nil {
					return files{"circuit": circuitPath}.explain(err)
				}
				st.Timings = nil // stats are deterministic; timings would make them differ run to run
				if asJSON {
					return printJSON(a, st)
				}
				fmt.Fprintf(a.stdout, "gates            %d\ndyadic size      %d\nacir opcodes     %d\nmax dyadic size  %d (the engine's CRS)\n",
					st.Gates, st.DyadicSize, st.ACIROpcodes, st.MaxDyadicSize)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&circuitPath, "circuit", "", "Noir program artifact (circuit.json)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON {gates, dyadic_size, acir_opcodes, max_dyadic_size}")
	return cmd
}

func (a *app) noirCheckCommand(nf *noirFlags) *cobra.Command {
	var circuitPath, witnessPath string
	cmd := &cobra.Command{
		Use:   "check --circuit F --witness F",
		Short: "whether a witness satisfies a Noir circuit: exit 0 satisfied, 1 not (bb 5.0.0 checks by proving)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			circuit, err := readCircuit(circuitPath)
			if err != nil {
				return err
			}
			wit, err := readWitness(witnessPath)
			if err != nil {
				return err
			}
			return a.withBB(cmd.Context(), nf, func(c *noirclient.Client) error {
				res, err := c.Check(cmd.Context(), circuitName(circuitPath), circuit, wit)
				if err != nil {
					return files{"circuit": circuitPath, "witness": witnessPath}.explain(err)
				}
				return a.satisfied(witnessPath, circuitPath, res)
			})
		},
	}
	cmd.Flags().StringVar(&circuitPath, "circuit", "", "Noir program artifact (circuit.json)")
	cmd.Flags().StringVar(&witnessPath, "witness", "", "witness (witness.gz)")
	return cmd
}

func (a *app) noirSolidityCommand(nf *noirFlags) *cobra.Command {
	var vkPath, out string
	cmd := &cobra.Command{
		Use:   "solidity --vk F --out F",
		Short: "write bb's Solidity verifier for a keccak verifying key (proofd noir vk --oracle-hash keccak)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return fmt.Errorf("--out is required")
			}
			vk, err := readInput("vk", vkPath)
			if err != nil {
				return err
			}
			return a.withBB(cmd.Context(), nf, func(c *noirclient.Client) error {
				src, err := c.Solidity(cmd.Context(), circuitName(vkPath), artifact.New(vk))
				if err != nil {
					return files{"vk": vkPath}.explain(err)
				}
				if err := atomicfile.Write(out, []byte(src), 0o644); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "solidity verifier %s (%d bytes)\n", out, len(src))
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&vkPath, "vk", "", "verifying key made with --oracle-hash keccak")
	cmd.Flags().StringVar(&out, "out", "", "where to write the .sol file")
	return cmd
}

// noirCRSCommand writes the embedded CRS for the bb CLI: a recording's
// command.sh runs it, so recordings hold no 2 MB copy of it.
func (a *app) noirCRSCommand() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:    "crs --out DIR",
		Short:  "write the embedded CRS (bn254_g1.dat) into DIR, for bb -c DIR",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return fmt.Errorf("--out is required")
			}
			return crs.WriteDir(out)
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "the directory (made if missing)")
	return cmd
}
