package cli

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/proofd/proofd/engine/host"
	"github.com/proofd/proofd/snark"
	"github.com/proofd/proofd/vm/vmengine"
)

func (a *app) engineCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "engine", Short: "run an engine process"}
	var socket, kind string
	var exitOnEOF bool
	var maxResident uint64
	serve := &cobra.Command{
		Use:   "serve",
		Short: "serve an engine on a Unix socket; the socket path is announced on stdout",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var cfg host.Config
			switch kind {
			case "snark":
				cfg = snark.Config(a.logger())
			case "vm":
				cfg = vmengine.Config(a.logger())
			default:
				return fmt.Errorf("--kind %q: want snark or vm", kind)
			}
			cfg.SocketPath = socket
			cfg.Announce = os.Stdout
			cfg.MaxResidentBytes = maxResident
			srv, err := host.NewServer(cfg)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if exitOnEOF {
				// The parent holds our stdin open; EOF means it is gone.
				var cancel context.CancelFunc
				ctx, cancel = context.WithCancel(ctx)
				defer cancel()
				go func() {
					io.Copy(io.Discard, os.Stdin)
					cancel()
				}()
			}
			return srv.Serve(ctx)
		},
	}
	serve.Flags().StringVar(&kind, "kind", "snark", "which engine: snark (gnark) or vm (Cannon MIPS64)")
	serve.Flags().StringVar(&socket, "socket", "", "listen here instead of a fresh private directory")
	serve.Flags().BoolVar(&exitOnEOF, "exit-on-stdin-eof", false, "exit when stdin closes (set by a parent that spawns the engine)")
	serve.Flags().Uint64Var(&maxResident, "max-resident-bytes", 16<<30, "budget for resident artifacts; least recently used go first")
	cmd.AddCommand(serve)
	return cmd
}
