package cli

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/proofd/proofd/artifact"
	"github.com/proofd/proofd/atomicfile"
	"github.com/proofd/proofd/engine"
	"github.com/proofd/proofd/engine/snarkclient"
)

func (a *app) setupCommand() *cobra.Command {
	var ccsPath, scheme, srsPath, pkPath, vkPath string
	var devSRS bool
	cmd := &cobra.Command{
		Use:   "setup --ccs F --scheme groth16|plonk [--srs F | --dev-srs] --pk F --vk F",
		Short: "make proving and verifying keys for a constraint system",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if pkPath == "" || vkPath == "" {
				return fmt.Errorf("--pk and --vk are required")
			}
			ccs, err := readInput("ccs", ccsPath)
			if err != nil {
				return err
			}
			req := snarkclient.SetupRequest{Name: circuitName(ccsPath), CCS: artifact.New(ccs), Scheme: scheme, DevSRS: devSRS}
			in := files{"ccs": ccsPath, "scheme": scheme}
			if srsPath != "" {
				srs, err := readInput("srs", srsPath)
				if err != nil {
					return err
				}
				s := artifact.New(srs)
				req.SRS = &s
				in["srs"] = srsPath
			}
			return a.withEngine(cmd.Context(), func(c *engine.Conn) error {
				pr := a.progress("setup "+req.Name, 0, unitNone, false)
				res, err := snarkclient.New(c).Setup(cmd.Context(), req)
				shown := pr.finish()
				if err != nil {
					return in.explain(err)
				}
				if shown {
					a.stageTimings("setup "+req.Name, res.Timings)
				}
				for _, w := range res.Warnings {
					fmt.Fprintln(a.stderr, "WARNING:", w)
				}
				// Both keys are written and synced before either is published,
				// so a crash cannot leave a new pk beside an old vk's temp.
				if err := atomicfile.WriteGroup(atomicfile.OSFS{},
					atomicfile.Entry{Path: pkPath, Perm: 0o644, Fill: atomicfile.Data(res.PK.Data)},
					atomicfile.Entry{Path: vkPath, Perm: 0o644, Fill: atomicfile.Data(res.VK.Data)},
				); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "setup %s: pk %s (%d bytes), vk %s (%d bytes)  %s\n",
					scheme, pkPath, len(res.PK.Data), vkPath, len(res.VK.Data), formatTimings(res.Timings))
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&ccsPath, "ccs", "", "constraint system (gnark encoding)")
	f.StringVar(&scheme, "scheme", "groth16", "groth16 or plonk")
	f.StringVar(&srsPath, "srs", "", "KZG SRS for PLONK (gnark-crypto kzg.SRS encoding)")
	f.BoolVar(&devSRS, "dev-srs", false, "PLONK: use an INSECURE development SRS (its toxic waste is public)")
	f.StringVar(&pkPath, "pk", "", "where to write the proving key")
	f.StringVar(&vkPath, "vk", "", "where to write the verifying key")
	return cmd
}

func (a *app) proveCommand() *cobra.Command {
	var ccsPath, pkPath, witnessPath, proofPath, publicPath, target string
	cmd := &cobra.Command{
		Use:   "prove --ccs F --pk F --witness F --proof F --public F [--target native|solidity|bn254|bw6-761]",
		Short: "prove a full witness",
		Long: "prove makes a proof of a full witness. --target says where the proof will be verified:\n" +
			"native (the default: proofd verify), solidity (the Groth16 contract proofd solidity exports,\n" +
			"which hashes commitments with keccak256), bn254 or bw6-761 (inside a Groth16 verifier circuit\n" +
			"on that curve). For a Groth16 circuit with commitments a proof verifies only for the target it\n" +
			"was made for: pass the same --target to proofd verify.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if proofPath == "" || publicPath == "" {
				return fmt.Errorf("--proof and --public are required")
			}
			ccs, err := readInput("ccs", ccsPath)
			if err != nil {
				return err
			}
			pk, err := readInput("pk", pkPath)
			if err != nil {
				return err
			}
			wit, err := readInput("witness", witnessPath)
			if err != nil {
				return err
			}
			if _, err := snarkclient.TargetToProto(target); err != nil {
				return fmt.Errorf("--%s", err)
			}
			in := files{"ccs": ccsPath, "pk": pkPath, "witness": witnessPath, "target": target}
			return a.withEngine(cmd.Context(), func(c *engine.Conn) error {
				name := circuitName(ccsPath)
				pr := a.progress("prove "+name, 0, unitNone, false)
				res, err := snarkclient.New(c).Prove(cmd.Context(), snarkclient.ProveRequest{
					Name: name, CCS: artifact.New(ccs), PK: artifact.New(pk), Witness: wit, Target: target,
				})
				shown := pr.finish()
				if err != nil {
					return in.explain(err)
				}
				if shown {
					a.stageTimings("prove "+name, res.Timings)
				}
				if err := atomicfile.WriteGroup(atomicfile.OSFS{},
					atomicfile.Entry{Path: proofPath, Perm: 0o644, Fill: atomicfile.Data(res.Proof)},
					atomicfile.Entry{Path: publicPath, Perm: 0o644, Fill: atomicfile.Data(res.Public)},
				); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "proof %s (%d bytes), public witness %s  %s\n",
					proofPath, len(res.Proof), publicPath, formatTimings(res.Timings))
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&ccsPath, "ccs", "", "constraint system")
	f.StringVar(&pkPath, "pk", "", "proving key")
	f.StringVar(&witnessPath, "witness", "", "full witness (gnark binary encoding)")
	f.StringVar(&proofPath, "proof", "", "where to write the proof")
	f.StringVar(&publicPath, "public", "", "where to write the public witness")
	f.StringVar(&target, "target", "native", "where the proof will be verified: native, solidity, bn254 or bw6-761 (in-circuit)")
	return cmd
}

func (a *app) verifyCommand() *cobra.Command {
	var vkPath, proofPath, publicPath, target string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "verify --vk F --proof F --public F [--target T]",
		Short: "verify a proof: exit 0 valid, 1 invalid, 2 error",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
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
			if _, err := snarkclient.TargetToProto(target); err != nil {
				return fmt.Errorf("--%s", err)
			}
			in := files{"vk": vkPath, "proof": proofPath, "public": publicPath, "target": target}
			return a.withEngine(cmd.Context(), func(c *engine.Conn) error {
				res, err := snarkclient.New(c).Verify(cmd.Context(), snarkclient.VerifyRequest{Name: circuitName(vkPath), VK: artifact.New(vk), Proof: proof, Public: pub, Target: target})
				if err != nil {
					return in.explain(err)
				}
				return a.verdict(asJSON, proofPath, res)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&vkPath, "vk", "", "verifying key")
	f.StringVar(&proofPath, "proof", "", "proof")
	f.StringVar(&publicPath, "public", "", "public witness")
	f.StringVar(&target, "target", "native", "the target the proof was made for (proofd prove --target)")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

func (a *app) statsCommand() *cobra.Command {
	var ccsPath string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "stats --ccs F [--json]",
		Short: "describe a constraint system",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ccs, err := readInput("ccs", ccsPath)
			if err != nil {
				return err
			}
			return a.withEngine(cmd.Context(), func(c *engine.Conn) error {
				st, err := snarkclient.New(c).Stats(cmd.Context(), circuitName(ccsPath), artifact.New(ccs))
				if err != nil {
					return files{"ccs": ccsPath}.explain(err)
				}
				st.Timings = nil // stats are deterministic; timings would make them differ run to run
				if asJSON {
					return printJSON(a, st)
				}
				fmt.Fprintf(a.stdout, "curve        %s\nscheme       %s\nconstraints  %d\npublic       %d\nsecret       %d\ninternal     %d\ngnark        %s\n",
					st.Curve, st.Scheme, st.Constraints, st.PublicVariables, st.SecretVariables, st.InternalVariables, st.GnarkVersion)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&ccsPath, "ccs", "", "constraint system")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (a *app) checkCommand() *cobra.Command {
	var ccsPath, witnessPath string
	cmd := &cobra.Command{
		Use:   "check --ccs F --witness F",
		Short: "solve the circuit with a witness, without proving: exit 0 satisfied, 1 not",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ccs, err := readInput("ccs", ccsPath)
			if err != nil {
				return err
			}
			wit, err := readInput("witness", witnessPath)
			if err != nil {
				return err
			}
			return a.withEngine(cmd.Context(), func(c *engine.Conn) error {
				res, err := snarkclient.New(c).Check(cmd.Context(), circuitName(ccsPath), artifact.New(ccs), wit)
				if err != nil {
					return files{"ccs": ccsPath, "witness": witnessPath}.explain(err)
				}
				return a.satisfied(witnessPath, ccsPath, res)
			})
		},
	}
	cmd.Flags().StringVar(&ccsPath, "ccs", "", "constraint system")
	cmd.Flags().StringVar(&witnessPath, "witness", "", "full witness")
	return cmd
}

func (a *app) solidityCommand() *cobra.Command {
	var vkPath, out string
	cmd := &cobra.Command{
		Use:   "solidity --vk F --out F",
		Short: "export a Solidity verifier for a BN254 verifying key",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return fmt.Errorf("--out is required")
			}
			vk, err := readInput("vk", vkPath)
			if err != nil {
				return err
			}
			return a.withEngine(cmd.Context(), func(c *engine.Conn) error {
				src, err := snarkclient.New(c).Solidity(cmd.Context(), circuitName(vkPath), artifact.New(vk))
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
	cmd.Flags().StringVar(&vkPath, "vk", "", "verifying key (bn254)")
	cmd.Flags().StringVar(&out, "out", "", "where to write the .sol file")
	return cmd
}

// circuitName labels a call in recordings: the input file's base name.
func circuitName(path string) string {
	return strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
}

func printJSON(a *app, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(a.stdout, string(b))
	return err
}

// stageTimings writes, on stderr, the per-stage timings an engine call
// returned, after a progress display that could only show it running: the
// engine reports its stages when the call ends, not as they happen.
func (a *app) stageTimings(name string, ts []engine.Timing) {
	fmt.Fprintf(a.stderr, "%s: stages %s\n", name, formatTimings(ts))
}

// verdict reports a verification: res as JSON with --json, else a line;
// an invalid proof is a negativeAnswer (exit 1).
func (a *app) verdict(asJSON bool, proofPath string, res *engine.VerifyResult) error {
	if asJSON {
		if err := printJSON(a, res); err != nil {
			return err
		}
	}
	if !res.Valid {
		return &negativeAnswer{msg: fmt.Sprintf("proof %s is INVALID: %s", proofPath, res.Reason)}
	}
	if !asJSON {
		fmt.Fprintf(a.stdout, "proof %s is valid  %s\n", proofPath, formatTimings(res.Timings))
	}
	return nil
}

// satisfied reports a witness check; an unsatisfied witness is a
// negativeAnswer (exit 1).
func (a *app) satisfied(witnessPath, circuitPath string, res *engine.CheckResult) error {
	if !res.Satisfied {
		return &negativeAnswer{msg: fmt.Sprintf("witness %s does NOT satisfy %s: %s", witnessPath, circuitPath, res.Reason)}
	}
	fmt.Fprintf(a.stdout, "witness %s satisfies %s  %s\n", witnessPath, circuitPath, formatTimings(res.Timings))
	return nil
}

func formatTimings(ts []engine.Timing) string {
	parts := make([]string, 0, len(ts))
	for _, t := range ts {
		parts = append(parts, fmt.Sprintf("%s=%s", t.Stage, t.Duration.Round(10*time.Microsecond)))
	}
	return "[" + strings.Join(parts, " ") + "]"
}
