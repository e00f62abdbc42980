package cli

import (
	"context"
	"io"

	"github.com/proofd/proofd/internal/node"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/proofd/proofd/engine"
	"github.com/proofd/proofd/engine/enginemetrics"
	"github.com/proofd/proofd/engine/pool"
	"github.com/proofd/proofd/engine/pool/poolmetrics"
)

// factory makes an engine factory over proofd's own engine: a pool of size
// engines (0: a fresh engine per call), with its metrics and those of the
// engines' RPCs in reg.
func (a *app) factory(size int, reg prometheus.Registerer) (*pool.Factory, error) {
	hooks, err := poolmetrics.Hooks(reg)
	if err != nil {
		return nil, err
	}
	onRPC, err := enginemetrics.RPC(reg)
	if err != nil {
		return nil, err
	}
	return a.newFactory(size, hooks, onRPC)
}

// factoryWithHooks is factory with the given hooks instead of metrics.
func (a *app) factoryWithHooks(size int, hooks pool.Hooks) (*pool.Factory, error) {
	return a.newFactory(size, hooks, nil)
}

func (a *app) newFactory(size int, hooks pool.Hooks, onRPC engine.RPCObserver) (*pool.Factory, error) {
	opts, err := a.spawnOptions()
	if err != nil {
		return nil, err
	}
	opts.OnRPC = onRPC
	return pool.New(pool.Config{
		PoolSize: size,
		Start:    func(ctx context.Context) (*engine.Conn, error) { return engine.Spawn(ctx, opts) },
		Hooks:    hooks,
	})
}

// nodeFactory is the node's pool: cfg.Engines local engine processes and
// cfg.RemoteEngines, dialed with mutual TLS. onRPC, when set, observes
// every engine's RPCs.
func (a *app) nodeFactory(cfg node.Config, hooks pool.Hooks, onRPC engine.RPCObserver) (*pool.Factory, error) {
	opts, err := a.spawnOptions()
	if err != nil {
		return nil, err
	}
	opts.OnRPC = onRPC
	tlsCfg, err := cfg.ClientTLS()
	if err != nil {
		return nil, err
	}
	st, err := node.NewStarter(func(ctx context.Context) (*engine.Conn, error) { return engine.Spawn(ctx, opts) }, cfg.RemoteEngines, tlsCfg, onRPC)
	if err != nil {
		return nil, err
	}
	return pool.New(pool.Config{PoolSize: cfg.Engines + len(cfg.RemoteEngines), Start: st.Start, Hooks: hooks})
}

// writeMetrics prints reg in the Prometheus text format.
func writeMetrics(w io.Writer, reg *prometheus.Registry) error {
	mfs, err := reg.Gather()
	if err != nil {
		return err
	}
	enc := expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return err
		}
	}
	return nil
}
