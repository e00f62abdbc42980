package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/proofd/proofd/artifact/artcache"
	"github.com/proofd/proofd/queue"
	"github.com/proofd/proofd/queue/natsq"
	"github.com/proofd/proofd/queue/natsq/natsqmetrics"
)

// Options are what Run needs beside the configuration.
type Options struct {
	Pool     queue.Pool // the host's engines
	Registry *prometheus.Registry
	Logger   *slog.Logger
}

// Run takes and proves jobs until ctx ends, then drains (see the package
// doc) and returns nil.
func Run(ctx context.Context, cfg Config, opts Options) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if opts.Pool == nil || opts.Registry == nil {
		return errors.New("worker: Pool and Registry are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	hooks, cacheHooks, err := natsqmetrics.Worker(opts.Registry)
	if err != nil {
		return err
	}
	cache, err := artcache.Open(artcache.Options{Dir: cfg.CacheDir, DiskBytes: cfg.CacheBytes, MemBytes: cfg.CacheMem, Hooks: cacheHooks})
	if err != nil {
		return err
	}
	if cfg.MetricsAddr != "" {
		stop, err := serveMetrics(cfg.MetricsAddr, opts.Registry, opts.Logger)
		if err != nil {
			return err
		}
		defer stop()
	}
	cc := cfg.Conn()
	cc.Logger = opts.Logger
	nc, err := cc.Connect()
	if err != nil {
		return err
	}
	defer nc.Close()
	opts.Logger.Info("worker connected", "nats", natsq.Redact(cfg.NATS), "name", cfg.Name, "cache", cfg.CacheDir)
	return natsq.RunWorker(ctx, nc, natsq.WorkerConfig{
		Name: cfg.Name, Classes: cfg.Classes, Slots: cfg.Engines, AckWait: cfg.AckWait, MaxDeliver: cfg.MaxDeliver,
		Grace: cfg.Grace, Topology: natsq.Topology{Replicas: cfg.Replicas}, Engines: queue.Local{Pool: opts.Pool},
		Cache: cache, Hooks: hooks, Logger: opts.Logger,
	})
}

func serveMetrics(addr string, reg *prometheus.Registry, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics-addr %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ln) }()
	log.Info("metrics listening", "addr", ln.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
	}, nil
}
