package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/proofd/proofd/engine"
	"github.com/proofd/proofd/engine/host"
	"github.com/proofd/proofd/snark"
)

// Grace is how long proofd lets its work stop after the first SIGINT or
// SIGTERM before it abandons the work and exits.
const Grace = 5 * time.Second

// exitInterrupted is the exit code of a run stopped by a signal.
const exitInterrupted = 2

// Main runs the command line and returns the process exit code. The first
// signal on sigs cancels the run's context; if the run has not returned
// Grace later, Main returns without it, because some work (gnark's setup,
// say) cannot be interrupted. A second signal returns at once. Abandoning
// work loses nothing: commands write their outputs only after success, each
// atomically. The caller must exit the process when Main returns.
func Main(sigs <-chan os.Signal, args []string, stdout, stderr io.Writer) int {
	return interruptible(sigs, Grace, stderr, func(ctx context.Context) int {
		return Run(ctx, args, stdout, stderr)
	})
}

// interruptible runs run under sigs as Main describes. It returns with run
// still going when it gives up on it.
func interruptible(sigs <-chan os.Signal, grace time.Duration, stderr io.Writer, run func(context.Context) int) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() { done <- run(ctx) }()
	var giveUp <-chan time.Time
	for {
		select {
		case code := <-done:
			return code
		case sig := <-sigs:
			if ctx.Err() != nil {
				fmt.Fprintf(stderr, "proofd: second signal (%v), exiting now\n", sig)
				return exitInterrupted
			}
			cancel()
			giveUp = time.After(grace)
		case <-giveUp:
			fmt.Fprintf(stderr, "proofd: interrupted; the work did not stop within %s, abandoning it\n", grace)
			return exitInterrupted
		}
	}
}

// Run executes the proofd command line and returns the process exit code.
// Cancelling ctx stops the work where it can be stopped; Main also bounds
// how long that may take.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	snark.RouteGnarkLog()
	a := &app{stdout: stdout, stderr: stderr}
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ne *negativeAnswer
	if errors.As(err, &ne) {
		fmt.Fprintln(stderr, ne.msg)
		return 1
	}
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		fmt.Fprintln(stderr, "proofd: interrupted")
		return exitInterrupted
	}
	fmt.Fprintln(stderr, "proofd:", err)
	return 2
}

// negativeAnswer is a successful call whose answer is "no": exit code 1.
type negativeAnswer struct{ msg string }

func (n *negativeAnswer) Error() string { return n.msg }

type app struct {
	stdout, stderr io.Writer
	engineMode     string
	engineBin      string
	verbose        bool
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "proofd",
		Short: "proofd keeps prover engines warm behind one API",
		Long: "proofd keeps prover engines warm behind one API.\n\n" +
			"On SIGINT or SIGTERM proofd stops its work and exits (code 2) within " + Grace.String() + ",\n" +
			"abandoning work that cannot be interrupted; a second signal exits at once. Nothing\n" +
			"partial is left: outputs are written, atomically, only after success.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&a.engineMode, "engine", "inprocess", "where the SNARK engine runs for stats, setup, prove, verify, check, solidity and demo: inprocess or spawn (a child engine process)")
	root.PersistentFlags().StringVar(&a.engineBin, "engine-bin", "", "engine binary for --engine spawn (default: this proofd)")
	root.PersistentFlags().BoolVarP(&a.verbose, "verbose", "v", false, "log engine activity to stderr")
	root.AddCommand(
		a.setupCommand(), a.proveCommand(), a.verifyCommand(), a.statsCommand(),
		a.checkCommand(), a.solidityCommand(), a.exampleCommand(), a.engineCommand(),
		a.demoCommand(), a.benchCommand(), a.srsCommand(), a.snapshotCommand(), a.vmCommand(), a.certsCommand(),
		a.receiptsCommand(), a.nodeCommand(), a.workerCommand(), a.calldataCommand(), a.noirCommand(),
	)
	return root
}

func (a *app) logger() *slog.Logger {
	if !a.verbose {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// spawnOptions says how to start proofd's own engine as a child process.
func (a *app) spawnOptions() (engine.SpawnOptions, error) {
	opts, err := engine.SelfEngine()
	if err != nil {
		return opts, err
	}
	if a.engineBin != "" {
		opts.Path = a.engineBin
	}
	if a.verbose {
		opts.Stderr = a.stderr
		opts.Args = append(opts.Args, "--verbose")
	}
	return opts, nil
}

// open connects to a SNARK engine as --engine says.
func (a *app) open(ctx context.Context) (*engine.Conn, error) {
	switch a.engineMode {
	case "inprocess":
		srv, err := host.NewServer(snark.Config(a.logger()))
		if err != nil {
			return nil, err
		}
		return engine.InProcess(ctx, srv.ServeInProcess())
	case "spawn":
		opts, err := a.spawnOptions()
		if err != nil {
			return nil, err
		}
		return engine.Spawn(ctx, opts)
	}
	return nil, fmt.Errorf("--engine %q: want inprocess or spawn", a.engineMode)
}

// withEngine runs fn on a fresh engine and closes it, reporting both errors.
func (a *app) withEngine(ctx context.Context, fn func(*engine.Conn) error) error {
	c, err := a.open(ctx)
	if err != nil {
		return err
	}
	err = fn(c)
	if cerr := c.Close(); cerr != nil && err == nil {
		err = cerr
	}
	return err
}

// files maps engine input names to the files the user gave, so an engine's
// complaint about "witness" names the file.
type files map[string]string

// explain rewrites an engine InputError to name the user's file and flag.
func (f files) explain(err error) error {
	var ie *engine.InputError
	if !errors.As(err, &ie) {
		return err
	}
	if path, ok := f[ie.Input]; ok {
		return fmt.Errorf("%s: %s (--%s): %s", ie.Op, path, ie.Input, ie.Reason)
	}
	return err
}

func readInput(flag, path string) ([]byte, error) {
	if path == "" {
		return nil, fmt.Errorf("--%s is required", flag)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--%s: %w", flag, err)
	}
	return b, nil
}
