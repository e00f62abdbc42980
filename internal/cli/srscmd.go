package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/proofd/proofd/atomicfile"
	"github.com/proofd/proofd/snark"
)

func (a *app) srsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "srs", Short: "KZG SRS files for PLONK"}
	var ccsPath, out string
	dev := &cobra.Command{
		Use:   "dev --ccs F --out F",
		Short: "write the INSECURE development SRS sized for a circuit (for tests only)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return fmt.Errorf("--out is required")
			}
			ccs, err := readInput("ccs", ccsPath)
			if err != nil {
				return err
			}
			b, err := snark.DevSRS(ccs)
			if err != nil {
				return fmt.Errorf("%s (--ccs): %w", ccsPath, err)
			}
			fmt.Fprintln(a.stderr, "WARNING:", snark.DevSRSWarning)
			return atomicfile.Write(out, b, 0o644)
		},
	}
	dev.Flags().StringVar(&ccsPath, "ccs", "", "constraint system the SRS must fit")
	dev.Flags().StringVar(&out, "out", "", "where to write the SRS")
	cmd.AddCommand(dev)
	return cmd
}
