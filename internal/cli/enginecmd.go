package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"runtime/debug"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/proofd/proofd/bb/bbengine"
	"github.com/proofd/proofd/engine/host"
	"github.com/proofd/proofd/engine/host/hostmetrics"
	"github.com/proofd/proofd/snark"
	"github.com/proofd/proofd/vm/vmengine"
	"github.com/proofd/proofd/vm/vmengine/vmmetrics"
)

func (a *app) engineCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "engine", Short: "run an engine process"}
	var socket, kind, listen string
	var tlsFlags tlsFiles
	var exitOnEOF bool
	var maxResident uint64
	var preimageServers []string
	var metricsAddr string
	var metricsRemote bool
	var bbPath string
	var bbThreads int
	serve := &cobra.Command{
		Use:   "serve",
		Short: "serve an engine on a Unix socket (or TCP with mutual TLS); its address is announced on stdout",
		Long: "serve an engine on a private Unix socket; the socket path is announced on stdout.\n\n" +
			"With --listen tcp://HOST:PORT the engine serves remote clients over TCP with mutual TLS\n" +
			"(TLS 1.3, client certificate required): --tls-cert, --tls-key and --client-ca are then\n" +
			"required; there is no insecure TCP mode. Port 0 picks a free port; the announce line\n" +
			"carries the address actually bound. `proofd certs dev` makes development certificates.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tcpAddr, tlsCfg, err := listenFlags(listen, socket, tlsFlags)
			if err != nil {
				return err
			}
			var reg *prometheus.Registry
			var vmHooks vmengine.Hooks
			if metricsAddr != "" {
				reg = prometheus.NewRegistry()
				if kind == "vm" {
					if vmHooks, err = vmmetrics.Hooks(reg); err != nil {
						return err
					}
				}
			}
			var cfg host.Config
			var bbDied <-chan struct{} // closed if the bb engine's child dies
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
				if cfg, err = vmengine.Config(a.logger(), vmengine.Options{PreimageServers: servers, Hooks: vmHooks}); err != nil {
					return err
				}
			case "bb":
				if len(preimageServers) > 0 {
					return fmt.Errorf("--preimage-server: only the vm engine reads preimages")
				}
				bb, _, err := bbengine.Locate(bbPath)
				if err != nil {
					return err
				}
				eng, err := bbengine.New(a.logger(), bbengine.Options{BB: bb, Threads: bbThreads, Stderr: a.stderr})
				if err != nil {
					return err
				}
				defer eng.Stop()
				cfg = eng.Config()
				bbDied = eng.Died()
			default:
				return fmt.Errorf("--kind %q: want snark, vm or bb", kind)
			}
			cfg.SocketPath = socket
			cfg.ListenTCP, cfg.TLS = tcpAddr, tlsCfg
			cfg.Announce = os.Stdout
			cfg.MaxResidentBytes = maxResident
			if metricsAddr != "" {
				ln, err := listenMetrics(metricsAddr, metricsRemote)
				if err != nil {
					return err
				}
				if cfg.Hooks.CallDone, err = hostmetrics.CallDone(reg); err != nil {
					ln.Close()
					return err
				}
				defer serveMetrics(ln, reg)()
				a.logger().Info("serving metrics", "addr", ln.Addr().String())
			}
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
			if bbDied != nil {
				// bb's death is the engine's: stop serving and exit non-zero,
				// so the pool sees a dead engine and starts another.
				var cancel context.CancelFunc
				ctx, cancel = context.WithCancel(ctx)
				defer cancel()
				go func() {
					select {
					case <-bbDied:
						cancel()
					case <-ctx.Done():
					}
				}()
				err := srv.Serve(ctx)
				select {
				case <-bbDied:
					return errors.New("bb engine: bb exited; the engine stops")
				default:
					return err
				}
			}
			return srv.Serve(ctx)
		},
	}
	serve.Flags().StringVar(&kind, "kind", "snark", "which engine: snark (gnark), vm (Cannon MIPS64) or bb (Noir circuits on Aztec's barretenberg)")
	serve.Flags().StringVar(&bbPath, "bb", "", "bb engine: the bb binary (default: $PROOFD_BB, else the project cache .cache/bb/5.0.0/bb that scripts/install-bb.sh fills, else bb on $PATH)")
	serve.Flags().IntVar(&bbThreads, "bb-threads", 0, "bb engine: bb's threads (HARDWARE_CONCURRENCY; 0: one per core)")
	serve.Flags().StringVar(&socket, "socket", "", "listen here instead of a fresh private directory")
	serve.Flags().StringVar(&listen, "listen", "", "serve on tcp://HOST:PORT with mutual TLS instead of a Unix socket (needs --tls-cert, --tls-key, --client-ca)")
	serve.Flags().StringVar(&tlsFlags.cert, "tls-cert", "", "with --listen: the engine's certificate (PEM)")
	serve.Flags().StringVar(&tlsFlags.key, "tls-key", "", "with --listen: the engine's private key (PEM)")
	serve.Flags().StringVar(&tlsFlags.clientCA, "client-ca", "", "with --listen: the CA (PEM) whose certificates clients must present")
	serve.Flags().BoolVar(&exitOnEOF, "exit-on-stdin-eof", false, "exit when stdin closes (set by a parent that spawns the engine)")
	serve.Flags().Uint64Var(&maxResident, "max-resident-bytes", 16<<30, "budget for everything kept between calls (artifacts, decoded keys and circuits, VM snapshots); least recently used go first")
	serve.Flags().StringVar(&metricsAddr, "metrics-addr", "", "serve Prometheus metrics at http://HOST:PORT/metrics (a loopback address unless --metrics-allow-remote)")
	serve.Flags().BoolVar(&metricsRemote, "metrics-allow-remote", false, "allow --metrics-addr on a non-loopback address (metrics are served without authentication)")
	serve.Flags().StringArrayVar(&preimageServers, "preimage-server", nil, "vm engine: NAME=CMD, a preimage server a load may name (CMD is split on spaces; repeatable)")
	cmd.AddCommand(serve)
	return cmd
}

// tlsFiles are the --tls-cert, --tls-key and --client-ca flags.
type tlsFiles struct{ cert, key, clientCA string }

// listenFlags checks --listen against the other flags and loads the TLS
// files: a TCP engine requires all three, a Unix-socket one none.
func listenFlags(listen, socket string, f tlsFiles) (string, *tls.Config, error) {
	set := map[string]string{"--tls-cert": f.cert, "--tls-key": f.key, "--client-ca": f.clientCA}
	names := []string{"--tls-cert", "--tls-key", "--client-ca"}
	if listen == "" {
		var given []string
		for _, n := range names {
			if set[n] != "" {
				given = append(given, n)
			}
		}
		if len(given) > 0 {
			return "", nil, fmt.Errorf("%s: only with --listen tcp://HOST:PORT", strings.Join(given, ", "))
		}
		return "", nil, nil
	}
	addr, ok := strings.CutPrefix(listen, "tcp://")
	if !ok {
		return "", nil, fmt.Errorf("--listen %q: want tcp://HOST:PORT", listen)
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return "", nil, fmt.Errorf("--listen %q: want tcp://HOST:PORT: %w", listen, err)
	}
	if socket != "" {
		return "", nil, errors.New("--listen and --socket: choose one")
	}
	var missing []string
	for _, n := range names {
		if set[n] == "" {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return "", nil, fmt.Errorf("--listen %s requires mutual TLS; missing %s (there is no insecure TCP mode; `proofd certs dev` makes development certificates)", listen, strings.Join(missing, ", "))
	}
	cfg, err := host.ServerTLS(f.cert, f.key, f.clientCA)
	if err != nil {
		return "", nil, err
	}
	return addr, cfg, nil
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
