package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/proofd/proofd/artifact"
	"github.com/proofd/proofd/engine/pool"
	"github.com/proofd/proofd/examples/rollup"
	"github.com/proofd/proofd/examples/rollup/prover"
	"github.com/proofd/proofd/keycache"
	"github.com/proofd/proofd/pipeline"
	"github.com/proofd/proofd/pipeline/chainlog"
	"github.com/proofd/proofd/pipeline/pipelinemetrics"
	ingestv1 "github.com/proofd/proofd/proto/ingestv1"
	"github.com/proofd/proofd/queue/natsq"
	"github.com/proofd/proofd/queue/natsq/natsqmetrics"
	"github.com/proofd/proofd/receipts"
	"github.com/proofd/proofd/receipts/receiptmetrics"
)

// Options are what Run needs beside the configuration.
type Options struct {
	Pool     prover.Pool
	Registry *prometheus.Registry // the node's own; the caller may have registered the pool's metrics in it
	Logger   *slog.Logger
	// Engines, when set, lists the engine pool's slots for the status;
	// unset, a *pool.Factory Pool lists its own (pool.Factory.Engines).
	Engines func() []*ingestv1.Engine
	// Listening, when set, is told the HTTP listener's address once it
	// accepts connections (before the circuits are ready).
	Listening func(addr string)
}

// Node is a running node's state that the API reads.
type Node struct {
	cfg     Config
	p       rollup.Params
	log     *slog.Logger
	inbox   *inbox
	store   *receipts.Store
	reg     *prometheus.Registry
	track   *tracker
	queries chan func(pipeline.View) // served by the pipeline between events
	engines func() []*ingestv1.Engine
	started time.Time
	// circuits names the circuits' artifacts once they are ready.
	circuits atomic.Pointer[map[artifact.Digest]string]

	ready, draining atomic.Bool
	ingest          *prometheus.CounterVec
	throttled       prometheus.Counter
}

// Run serves the node until ctx ends: on cancellation (SIGTERM) it stops
// taking blocks (submit answers 503), lets the pipeline finish what it has
// for up to cfg.ShutdownFor, then stops it (the journal keeps the rest) and
// returns nil.
func Run(ctx context.Context, cfg Config, opts Options) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if opts.Pool == nil || opts.Registry == nil {
		return errors.New("node: Pool and Registry are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	n := &Node{cfg: cfg, p: cfg.Params(), log: opts.Logger, reg: opts.Registry, track: newTracker(time.Now),
		queries: make(chan func(pipeline.View)), engines: opts.Engines, started: time.Now()}
	n.p.EnsureDefaults()
	if f, ok := opts.Pool.(*pool.Factory); ok && n.engines == nil {
		n.engines = poolEngines(f, func() map[artifact.Digest]string {
			if m := n.circuits.Load(); m != nil {
				return *m
			}
			return nil
		})
	}
	if err := n.registerIngestMetrics(); err != nil {
		return err
	}
	observeMetrics, err := pipelinemetrics.Observer(opts.Registry, pipelinemetrics.Options{BundleSize: uint64(n.p.BundleSize)})
	if err != nil {
		return err
	}

	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return err
	}
	genesis, _ := rollup.Genesis(n.p)
	if n.inbox, err = openInbox(filepath.Join(cfg.DataDir, "inbox"), genesis); err != nil {
		return err
	}
	defer n.inbox.Close()
	storeMetrics, err := receiptmetrics.New(opts.Registry)
	if err != nil {
		return err
	}
	store, err := receipts.Open(filepath.Join(cfg.DataDir, "receipts"), receipts.Options{Hooks: storeMetrics.Hooks()})
	if err != nil {
		return err
	}
	defer store.Close()
	n.store = store
	if err := storeMetrics.Track(store); err != nil {
		return err
	}
	chain, err := chainlog.Open(filepath.Join(cfg.DataDir, "chain"), chainlog.Options{})
	if err != nil {
		return err
	}
	defer chain.Close()
	keys, err := keycache.Open(cfg.keysDir())
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("http-addr %s: %w", cfg.HTTPAddr, err)
	}
	// HTTP/1.1 for JSON and browsers, and HTTP/2 without TLS (h2c) for gRPC
	// clients: the listener is local unless allow-insecure-http says so.
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: n.Handler(), ReadHeaderTimeout: 10 * time.Second, Protocols: protocols}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() {
		shut, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		srv.Shutdown(shut)
		<-served
	}()
	n.log.Info("node listening", "http", ln.Addr().String(), "data_dir", cfg.DataDir)
	if opts.Listening != nil {
		opts.Listening(ln.Addr().String())
	}

	pcfg := prover.Config{Params: n.p, Pool: opts.Pool, Keys: keys, Logger: n.log}
	if cfg.NATS != "" {
		q, closeQueue, err := n.natsQueue(ctx, cfg)
		if err != nil {
			return err
		}
		defer closeQueue()
		pcfg.Queue, pcfg.Class = q, cfg.Classes()
	}
	pr, setups, err := prover.New(ctx, pcfg)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped while the circuits were being readied
		}
		return err
	}
	circuits := pr.Circuits()
	n.circuits.Store(&circuits)
	for _, s := range setups {
		n.log.Info("circuit ready", "stage", s.Stage.String(), "constraints", s.Constraints, "cached", s.Cached, "setup_seconds", s.Setup.Seconds())
	}
	n.ready.Store(true)

	// The pipeline outlives ctx by the shutdown grace: on cancellation the
	// inbox ends its stream, the pipeline finishes what it holds, and only
	// then, or when the grace is up, is it stopped.
	pctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	go func() {
		<-ctx.Done()
		n.draining.Store(true)
		n.inbox.drain()
		n.log.Info("stopping: no new blocks; letting the pipeline finish", "grace", cfg.ShutdownFor.String())
		select {
		case <-time.After(cfg.ShutdownFor):
			stop()
		case <-pctx.Done():
		}
	}()
	rep, err := pipeline.Run(pctx, pipeline.ShellConfig{
		Core:    pipeline.Config{BundleSize: uint64(n.p.BundleSize), MaxProving: cfg.maxProving(), Retries: cfg.Retries},
		Genesis: pipeline.Checkpoint{Hash: genesis},
		Source:  n.inbox, Log: chain, Store: store, Prover: pr,
		Observe: func(u pipeline.Update) { observeMetrics(u); n.track.observe(u) },
		Queries: n.queries,
		Logger:  n.log,
	})
	stop()
	if rep != nil {
		n.log.Info("pipeline stopped", "made", rep.Made, "hits", rep.Hits, "resumed", rep.Resumed)
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// natsQueue connects to NATS and returns the queue that sends the node's
// proofs to workers; close ends it and the connection.
func (n *Node) natsQueue(ctx context.Context, cfg Config) (prover.Queue, func(), error) {
	cc := cfg.NATSConn()
	cc.Logger = n.log
	nc, err := cc.Connect()
	if err != nil {
		return nil, nil, err
	}
	hooks, err := natsqmetrics.Client(n.reg)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	c, err := natsq.NewClient(ctx, nc, natsq.ClientConfig{Node: cfg.NATSNode, Topology: natsq.Topology{Replicas: cfg.NATSReplicas},
		Hooks: hooks, Logger: n.log})
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	n.log.Info("proving on workers through NATS JetStream", "nats", natsq.Redact(cfg.NATS), "node", cfg.NATSNode)
	return c, func() { c.Close(); nc.Close() }, nil
}
