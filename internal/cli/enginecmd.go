package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime/debug"
	"strings"

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
	var preimageServers []string
	serve := &cobra.Command{
		Use:   "serve",
		Short: "serve an engine on a Unix socket; the socket path is announced on stdout",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var cfg host.Config
			switch kind {
			case "snark":
				if len(preimageServers) > 0 {
					return fmt.Errorf("--preimage-server: only the vm engine reads preimages")
				}
				cfg = snark.Config(a.logger())
			case "vm":
				servers, err := parsePreimageServers(preimageServers)
				if err != nil {
					return err
				}
				if cfg, err = vmengine.Config(a.logger(), vmengine.Options{PreimageServers: servers}); err != nil {
					return err
				}
			default:
				return fmt.Errorf("--kind %q: want snark or vm", kind)
			}
			cfg.SocketPath = socket
			cfg.Announce = os.Stdout
			cfg.MaxResidentBytes = maxResident
			if os.Getenv("GOMEMLIMIT") == "" {
				// The budget bounds what stays resident; let the collector
				// keep the heap near it instead of at twice the live bytes.
				debug.SetMemoryLimit(int64(min(maxResident+maxResident/8+memoryHeadroom, math.MaxInt64/2)))
			}
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
	serve.Flags().Uint64Var(&maxResident, "max-resident-bytes", 16<<30, "budget for everything kept between calls (artifacts, decoded keys and circuits, VM snapshots); least recently used go first")
	serve.Flags().StringArrayVar(&preimageServers, "preimage-server", nil, "vm engine: NAME=CMD, a preimage server a load may name (CMD is split on spaces; repeatable)")
	cmd.AddCommand(serve)
	return cmd
}

// memoryHeadroom is what an engine process may use beyond its resident
// budget before the collector works hard: the runtime, gRPC buffers, one
// upload in flight, a call's working memory.
const memoryHeadroom = 128 << 20

// parsePreimageServers reads --preimage-server NAME=CMD flags.
func parsePreimageServers(flags []string) (map[string][]string, error) {
	servers := map[string][]string{}
	var errs []error
	for _, f := range flags {
		name, cmd, ok := strings.Cut(f, "=")
		argv := strings.Fields(cmd)
		switch {
		case !ok || name == "" || len(argv) == 0:
			errs = append(errs, fmt.Errorf("--preimage-server %q: want NAME=CMD", f))
		case servers[name] != nil:
			errs = append(errs, fmt.Errorf("--preimage-server %q: %s is named twice", f, name))
		default:
			servers[name] = argv
		}
	}
	return servers, errors.Join(errs...)
}
