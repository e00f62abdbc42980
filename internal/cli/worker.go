package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/proofd/proofd/internal/worker"
)

func (a *app) workerCommand() *cobra.Command {
	var path string
	var check bool
	cmd := &cobra.Command{
		Use:   "worker --nats URL [--config FILE] [--check] [flags]",
		Short: "prove jobs from a NATS JetStream cluster on this host's engines (docs/scale.md)",
		Long: "worker pulls proving jobs of its resource classes from the JetStream work queue that\n" +
			"`proofd node --nats` publishes to, runs them on a pool of engine processes, and answers them;\n" +
			"artifacts come from the cluster's object store and are cached on this host.\n" +
			"Every key is a YAML key of --config, a flag, and a PROOFD_* environment variable.\n" +
			"SIGTERM or Ctrl-C: take no new job, let jobs in flight finish for --drain-grace, hand back the rest.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := worker.Load(path, cmd.Flags(), nil)
			if err != nil {
				return fmt.Errorf("worker: invalid configuration:\n%w", err)
			}
			log, checked := a.configured(cfg.Effective(), check)
			if checked {
				return nil
			}
			reg := prometheus.NewRegistry()
			fac, err := a.factory(cfg.Engines, reg)
			if err != nil {
				return err
			}
			defer fac.Close(context.WithoutCancel(cmd.Context()))
			return worker.Run(cmd.Context(), cfg, worker.Options{Pool: fac, Registry: reg, Logger: log})
		},
	}
	cmd.Flags().StringVar(&path, "config", "", "YAML configuration file (examples/worker.yaml)")
	cmd.Flags().BoolVar(&check, "check", false, "validate the configuration, print it as JSON, and exit")
	worker.Flags(cmd.Flags())
	return cmd
}

// configured is the start of a long-running command: under --check it
// prints the effective configuration as JSON and says so; otherwise it
// logs it and returns the command's JSON logger.
func (a *app) configured(effective map[string]any, check bool) (log *slog.Logger, checked bool) {
	eff, _ := json.Marshal(effective)
	if check {
		fmt.Fprintf(a.stdout, "%s\n", eff)
		return nil, true
	}
	log = slog.New(slog.NewJSONHandler(a.stderr, nil))
	log.Info("configuration", "effective", json.RawMessage(eff))
	return log, false
}
