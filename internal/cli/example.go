package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/proofd/proofd/examples/circuits"
	"github.com/proofd/proofd/snark"
)

func (a *app) exampleCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "example", Short: "built-in example circuits"}
	var name, curve, scheme, dir string
	var size int
	write := &cobra.Command{
		Use:   "write --name NAME --size N --curve C --dir DIR",
		Short: "write circuit.ccs, witness.wtns and public.wtns for a built-in example",
		Long: "Examples: mimc (a MiMC hash chain of --size hashes), transfer (a balance transfer as a Merkle\n" +
			"update of a tree of depth --size), recursive (a BW6-761 circuit verifying a Groth16 proof of a\n" +
			"BLS12-377 MiMC chain of --size hashes).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				return fmt.Errorf("--dir is required")
			}
			c, err := snark.ParseCurve(curve)
			if err != nil {
				return fmt.Errorf("--curve: %w", err)
			}
			ex, err := circuits.Write(name, size, c, scheme, dir)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "%s on %s (%s): %d constraints -> %s/{circuit.ccs,witness.wtns,public.wtns}\n",
				ex.Name, snark.CurveName(ex.Curve), ex.Scheme, ex.CCS.GetNbConstraints(), dir)
			return nil
		},
	}
	f := write.Flags()
	f.StringVar(&name, "name", "mimc", "example: mimc, transfer or recursive")
	f.IntVar(&size, "size", 16, "mimc: chain length; transfer: tree depth; recursive: inner chain length")
	f.StringVar(&curve, "curve", "bn254", "bn254, bls12-377 or bw6-761 (recursive: bw6-761)")
	f.StringVar(&scheme, "scheme", "groth16", "groth16 (R1CS) or plonk (SparseR1CS)")
	f.StringVar(&dir, "dir", "", "output directory")
	cmd.AddCommand(write)
	return cmd
}
