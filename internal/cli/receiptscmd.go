package cli

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/proofd/proofd/atomicfile"
	"github.com/proofd/proofd/receipts"
)

func (a *app) receiptsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "receipts", Short: "inspect and prune a receipt store (docs/receipts.md)"}
	var dataDir string
	cmd.PersistentFlags().StringVar(&dataDir, "data-dir", "", "a node's data directory (the store is its receipts/), or the store's own directory (required)")
	cmd.AddCommand(a.receiptsStatsCommand(&dataDir), a.receiptsGetCommand(&dataDir), a.receiptsPruneCommand(&dataDir))
	return cmd
}

// openReceipts opens an existing store: an operator's typo must not create
// an empty one. A node's data directory (the demo's) holds the store in
// receipts/; a store's own directory works too.
func openReceipts(dataDir string) (*receipts.Store, error) {
	if dataDir == "" {
		return nil, errors.New("--data-dir is required")
	}
	if st, err := os.Stat(filepath.Join(dataDir, "receipts")); err == nil && st.IsDir() {
		dataDir = filepath.Join(dataDir, "receipts")
	}
	s, err := receipts.Open(dataDir, receipts.Options{MustExist: true})
	if err != nil {
		return nil, fmt.Errorf("--data-dir %s: no receipt store there: %w", dataDir, err)
	}
	return s, nil
}

// receiptsStats is what `receipts stats --json` prints: per kind.
type receiptsStats map[string]receipts.KindStats

func (a *app) receiptsStatsCommand(dataDir *string) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "stats --data-dir D [--json]",
		Short: "receipts and bytes per kind",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) (err error) {
			s, err := openReceipts(*dataDir)
			if err != nil {
				return err
			}
			defer func() { err = errors.Join(err, s.Close()) }()
			st, err := s.Stats()
			if err != nil {
				return err
			}
			out := receiptsStats{}
			for _, k := range receipts.Kinds {
				out[k.String()] = st[k]
			}
			if asJSON {
				return json.NewEncoder(a.stdout).Encode(out)
			}
			for _, k := range receipts.Kinds {
				fmt.Fprintf(a.stdout, "%-10s %8d receipts %12d bytes\n", k, out[k.String()].Receipts, out[k.String()].Bytes)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"tx": {"Receipts": n, "Bytes": n}, "batch": …, "aggregate": …}`)
	return cmd
}

// receiptJSON is what `receipts get` prints.
type receiptJSON struct {
	Key     string    `json:"key"`
	Proof   string    `json:"proof"`
	Public  string    `json:"public"`
	Created time.Time `json:"created"`
}

func (a *app) receiptsGetCommand(dataDir *string) *cobra.Command {
	var (
		checkpoint, index             uint64
		kind, block, image, statement string
		proofOut, publicOut           string
	)
	cmd := &cobra.Command{
		Use:   "get --data-dir D --checkpoint N --block HEX --kind tx|batch|aggregate --image HEX --statement HEX [--index N]",
		Short: "print one receipt by its coordinates (exit 1 when there is none)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) (err error) {
			k := receipts.Key{Checkpoint: checkpoint, Index: index}
			var errs []error
			if k.Kind, err = parseKind(kind); err != nil {
				errs = append(errs, err)
			}
			for _, f := range []struct {
				flag, value string
				dst         *[32]byte
			}{{"--block", block, &k.Block}, {"--image", image, &k.Image}, {"--statement", statement, &k.Statement}} {
				if err := parseHash32(f.flag, f.value, f.dst); err != nil {
					errs = append(errs, err)
				}
			}
			if err := errors.Join(errs...); err != nil {
				return err
			}
			s, err := openReceipts(*dataDir)
			if err != nil {
				return err
			}
			defer func() { err = errors.Join(err, s.Close()) }()
			r, ok, err := s.Get(k)
			if err != nil {
				return err
			}
			if !ok {
				return &negativeAnswer{msg: fmt.Sprintf("no receipt at %s", k)}
			}
			if proofOut != "" || publicOut != "" {
				var entries []atomicfile.Entry
				if proofOut != "" {
					entries = append(entries, atomicfile.Entry{Path: proofOut, Perm: 0o644, Fill: atomicfile.Data(r.Proof)})
				}
				if publicOut != "" {
					entries = append(entries, atomicfile.Entry{Path: publicOut, Perm: 0o644, Fill: atomicfile.Data(r.Public)})
				}
				if err := atomicfile.WriteGroup(atomicfile.OSFS{}, entries...); err != nil {
					return err
				}
			}
			enc := json.NewEncoder(a.stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(receiptJSON{Key: k.String(), Proof: hex.EncodeToString(r.Proof), Public: hex.EncodeToString(r.Public), Created: r.Created})
		},
	}
	f := cmd.Flags()
	f.Uint64Var(&checkpoint, "checkpoint", 0, "the receipt's checkpoint")
	f.StringVar(&block, "block", "", "block hash, 64 hex digits")
	f.StringVar(&kind, "kind", "", "tx, batch or aggregate")
	f.StringVar(&image, "image", "", "image id (digest of constraint system and verifying key), 64 hex digits")
	f.StringVar(&statement, "statement", "", "statement digest, 64 hex digits")
	f.Uint64Var(&index, "index", 0, "tx: index in the block; batch: 0; aggregate: the bundle's end coordinate")
	f.StringVar(&proofOut, "proof", "", "also write the proof bytes to this file")
	f.StringVar(&publicOut, "public", "", "also write the public inputs to this file")
	return cmd
}

func (a *app) receiptsPruneCommand(dataDir *string) *cobra.Command {
	var through uint64
	var set bool
	cmd := &cobra.Command{
		Use:   "prune --data-dir D --through CHECKPOINT",
		Short: "delete every receipt at or below a finalized checkpoint, every kind and fork",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) (err error) {
			if set = cmd.Flags().Changed("through"); !set {
				return errors.New("--through is required")
			}
			s, err := openReceipts(*dataDir)
			if err != nil {
				return err
			}
			defer func() { err = errors.Join(err, s.Close()) }()
			if err := s.Prune(through); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "pruned every receipt at checkpoints ≤ %d\n", through)
			return nil
		},
	}
	cmd.Flags().Uint64Var(&through, "through", 0, "the finalized checkpoint")
	return cmd
}

func parseKind(s string) (receipts.Kind, error) {
	for _, k := range receipts.Kinds {
		if k.String() == s {
			return k, nil
		}
	}
	return 0, fmt.Errorf("--kind %q: want tx, batch or aggregate", s)
}

func parseHash32(flag, s string, dst *[32]byte) error {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		return fmt.Errorf("%s %q: want 64 hex digits", flag, s)
	}
	copy(dst[:], b)
	return nil
}
