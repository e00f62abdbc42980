package node

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/proofd/proofd/examples/rollup"
	"github.com/proofd/proofd/pipeline"
	"github.com/proofd/proofd/receipts"
)

// IngestOnly is a node that serves the ingest API (Handler) over its inbox
// and receipt store in cfg.DataDir, ready at once, with no prover and no
// pipeline: for benchmarks and tests of the API alone (`proofd bench
// ingest`, the fuzz test). Submit is exactly Run's: durable before 200,
// throttled past cfg.MaxBehind.
//
// With Consume, a goroutine takes every accepted event from the inbox, as
// soon as it is logged, into a pipeline core whose effects it drops (no
// lookup, no proof, no chain log): the inbox never falls behind, and
// GetBlock answers from the core. Without it nothing is taken, so submit
// answers 429 once cfg.MaxBehind events are logged; the queries answer from
// a core that holds genesis only.
type IngestOnly struct {
	*Node
	stop context.CancelFunc
	wg   sync.WaitGroup // the goroutines that read the inbox
}

// StartIngestOnly opens the inbox and receipt store in cfg.DataDir and
// starts serving the queries (and, with consume, taking events). Close it.
func StartIngestOnly(cfg Config, reg *prometheus.Registry, consume bool) (*IngestOnly, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	n := &Node{cfg: cfg, p: cfg.Params(), log: slog.New(slog.DiscardHandler), reg: reg, track: newTracker(time.Now),
		queries: make(chan func(pipeline.View)), started: time.Now()}
	n.p.EnsureDefaults()
	if err := n.registerIngestMetrics(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, err
	}
	genesis, _ := rollup.Genesis(n.p)
	var err error
	if n.inbox, err = openInbox(filepath.Join(cfg.DataDir, "inbox"), genesis); err != nil {
		return nil, err
	}
	if n.store, err = receipts.Open(filepath.Join(cfg.DataDir, "receipts"), receipts.Options{}); err != nil {
		n.inbox.Close()
		return nil, err
	}
	core, err := pipeline.New(pipeline.Config{BundleSize: uint64(n.p.BundleSize), Base: pipeline.Checkpoint{Hash: genesis}})
	if err != nil {
		n.store.Close()
		n.inbox.Close()
		return nil, err
	}
	ctx, stop := context.WithCancel(context.Background())
	s := &IngestOnly{Node: n, stop: stop}
	s.wg.Add(1)
	go s.serve(ctx, core, consume)
	n.ready.Store(true)
	return s, nil
}

// serve answers the queries with core and, with consume, feeds it every
// event the inbox logs, in order, until ctx ends.
func (s *IngestOnly) serve(ctx context.Context, core *pipeline.Core, consume bool) {
	defer s.wg.Done()
	events := make(chan pipeline.Event)
	if consume {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			for seq := uint64(0); ; seq++ {
				ev, err := s.inbox.Event(ctx, seq)
				if err != nil {
					return // ctx ended, or the inbox drained
				}
				select {
				case events <- ev:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	for {
		select {
		case ev := <-events:
			// As the shell does, minus the effects: a refused block is
			// reported to nobody.
			if ev.Block == nil {
				core.Finalize(min(ev.Finalize, core.Tip().Height))
				continue
			}
			if _, err := core.AddBlock(*ev.Block); err == nil {
				s.track.observe(pipeline.Update{Block: ev.Block, Depth: core.Depth()})
			}
		case q := <-s.queries:
			q(core)
		case <-ctx.Done():
			return
		}
	}
}

// Close stops serving and closes the inbox and the store.
func (s *IngestOnly) Close() error {
	s.draining.Store(true)
	s.stop()
	s.wg.Wait()
	return errors.Join(s.store.Close(), s.inbox.Close())
}

// registerIngestMetrics makes the ingest API's counters and registers them
// in the node's registry.
func (n *Node) registerIngestMetrics() error {
	n.ingest = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "proofd", Subsystem: "ingest", Name: "requests_total",
		Help: "Ingest requests by kind (block, head, finalize, getstatus, …) and outcome."}, []string{"kind", "outcome"})
	n.throttled = prometheus.NewCounter(prometheus.CounterOpts{Namespace: "proofd", Subsystem: "ingest", Name: "throttled_total",
		Help: "Ingest calls (blocks, heads, finality marks) refused with 429 because the pipeline was more than max-behind events behind."})
	for _, c := range []prometheus.Collector{n.ingest, n.throttled} {
		if err := n.reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
