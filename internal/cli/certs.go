package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/proofd/proofd/engine/devcert"
)

// insecureWarning is printed on stderr by every `certs dev` run.
const insecureWarning = "INSECURE: development certificates. The CA key is written beside them and anyone holding it can mint clients; do not use them in production."

func (a *app) certsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "certs", Short: "certificates for remote engines (mutual TLS)"}
	var out string
	var hosts []string
	dev := &cobra.Command{
		Use:   "dev",
		Short: "write an INSECURE development CA, engine (server) and client certificates",
		Long: "write a development CA (ca.pem, ca-key.pem), an engine certificate for --hosts\n" +
			"(server.pem, server-key.pem) and a client certificate (client.pem, client-key.pem),\n" +
			"ECDSA P-256, valid one year, keys 0600, all written at once. For\n" +
			"`proofd engine serve --listen tcp://HOST:PORT --tls-cert server.pem --tls-key server-key.pem --client-ca ca.pem`.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(a.stderr, insecureWarning)
			if out == "" {
				return fmt.Errorf("--out: required")
			}
			set, err := devcert.Generate(hosts, time.Now())
			if err != nil {
				return err
			}
			if err := set.Write(out); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "wrote development certificates for %s:\n  %s\n", strings.Join(hosts, ", "), strings.Join(devcert.Files(out), "\n  "))
			return nil
		},
	}
	dev.Flags().StringVar(&out, "out", "", "directory to write the files in (created 0700 if missing)")
	dev.Flags().StringSliceVar(&hosts, "hosts", []string{"localhost", "127.0.0.1"}, "names and IP addresses the engine certificate is good for")
	cmd.AddCommand(dev)
	return cmd
}
