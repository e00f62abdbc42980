package chainrun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/proofd/proofd/atomicfile"
	"github.com/proofd/proofd/examples/rollup"
	"github.com/proofd/proofd/examples/rollup/prover"
	"github.com/proofd/proofd/internal/crashpoint"
	"github.com/proofd/proofd/keycache"
	"github.com/proofd/proofd/pipeline"
	"github.com/proofd/proofd/pipeline/chainlog"
	"github.com/proofd/proofd/receipts"
)

// Config configures Run.
type Config struct {
	Sim rollup.SimConfig
	// Profile is the prover's (prover.ProfileDefault, the default, or
	// prover.ProfileEVM, which needs Sim.BundleSize 1). It is part of the
	// data directory's identity.
	Profile string
	DataDir string
	Pool    prover.Pool
	// MaxProving is how many proofs run at once: the pool's size.
	MaxProving int
	// Retries bounds each job's retries after the pool's own (default 2).
	Retries int
	// MaxUnsettled bounds the blocks taken from the chain ahead of their
	// settled batch proofs (default 2 bundles); 1 takes one block at a time.
	MaxUnsettled int
	// Observe is told of the pipeline's progress; Setup of each stage's
	// circuit as it becomes ready.
	Observe func(pipeline.Update)
	Setup   func(prover.StageSetup)
	Logger  *slog.Logger
	// WrapProver, when set, wraps the rollup prover the pipeline calls (a
	// benchmark records the jobs and times them).
	WrapProver func(pipeline.Prover) pipeline.Prover
}

// Result is what a run did.
type Result struct {
	Report        *pipeline.Report
	Setup         []prover.StageSetup
	Blocks, Txs   int // on the final canonical chain
	FinalVerified bool
	Wall          time.Duration // the whole run: simulation, circuits, keys, pipeline
	PipelineWall  time.Duration // the pipeline alone
}

// identity is chain.json.
type identity struct {
	Seed          int64 `json:"seed"`
	Blocks        int   `json:"blocks"`
	Reorgs        int   `json:"reorgs"`
	FinalityDepth int   `json:"finality_depth"`
	Depth         int   `json:"depth"`
	TxsPerBlock   int   `json:"txs_per_block"`
	BundleSize    int   `json:"bundle_size"`
	// Profile is empty for the default profile, so data directories made
	// before profiles existed keep their identity.
	Profile string `json:"profile,omitempty"`
}

func identityOf(s rollup.SimConfig, profile string) identity {
	if profile == prover.ProfileDefault {
		profile = ""
	}
	return identity{Seed: s.Seed, Blocks: s.Blocks, Reorgs: s.Reorgs, FinalityDepth: s.FinalityDepth,
		Depth: s.Depth, TxsPerBlock: s.TxsPerBlock, BundleSize: s.BundleSize, Profile: profile}
}

// claim records the chain the data directory follows, or checks it is the
// one recorded.
func claim(dir string, id identity) error {
	path := filepath.Join(dir, "chain.json")
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		out, _ := json.MarshalIndent(id, "", "  ")
		return atomicfile.Write(path, append(out, '\n'), 0o600)
	}
	if err != nil {
		return err
	}
	var have identity
	if err := json.Unmarshal(data, &have); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if have != id {
		return fmt.Errorf("data directory %s follows another chain (%s: %+v); this run's is %+v: use another --data-dir", dir, path, have, id)
	}
	return nil
}

// sliceSource serves the simulated chain's events.
type sliceSource []pipeline.Event

func (s sliceSource) Event(ctx context.Context, n uint64) (pipeline.Event, error) {
	if err := ctx.Err(); err != nil {
		return pipeline.Event{}, err
	}
	if n >= uint64(len(s)) {
		return pipeline.Event{}, io.EOF
	}
	return s[n], nil
}

// Events turns the simulated chain into the pipeline's events.
func Events(evs []rollup.Event) ([]pipeline.Event, error) {
	out := make([]pipeline.Event, 0, len(evs))
	for _, ev := range evs {
		if ev.Block == nil {
			out = append(out, pipeline.Event{Finalize: ev.Finalize})
			continue
		}
		payload, err := ev.Block.MarshalBinary()
		if err != nil {
			return nil, err
		}
		b := ev.Block
		out = append(out, pipeline.Event{
			Block:   &pipeline.Block{Height: b.Height, Hash: b.Hash, Parent: b.Parent, Txs: len(b.Txs)},
			Payload: payload,
		})
	}
	return out, nil
}

// Run simulates the chain, readies the circuits and runs the pipeline over
// the chain on cfg.DataDir (created if need be).
func Run(ctx context.Context, cfg Config) (*Result, error) {
	start := time.Now()
	cfg.Sim.Params.EnsureDefaults()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, err
	}
	if err := prover.CheckProfile(cfg.Profile, cfg.Sim.Params); err != nil {
		return nil, err
	}
	evs, err := rollup.Simulate(cfg.Sim)
	if err != nil {
		return nil, err
	}
	// Simulate fills its defaults into a copy; record what it ran.
	if err := claim(cfg.DataDir, identityOf(cfg.Sim, cfg.Profile)); err != nil {
		return nil, err
	}
	events, err := Events(evs)
	if err != nil {
		return nil, err
	}
	keys, err := keycache.Open(filepath.Join(cfg.DataDir, "keys"))
	if err != nil {
		return nil, err
	}
	store, err := receipts.Open(filepath.Join(cfg.DataDir, "receipts"), receipts.Options{FS: crashpoint.FS(vfs.Default)})
	if err != nil {
		return nil, err
	}
	defer store.Close()
	log, err := chainlog.Open(filepath.Join(cfg.DataDir, "chain"), chainlog.Options{})
	if err != nil {
		return nil, err
	}
	defer log.Close()

	pr, setups, err := prover.New(ctx, prover.Config{Params: cfg.Sim.Params, Profile: cfg.Profile, Pool: cfg.Pool, Keys: keys, Logger: cfg.Logger, Ready: cfg.Setup})
	if err != nil {
		return nil, err
	}
	res := &Result{Setup: setups}
	gh, _ := rollup.Genesis(cfg.Sim.Params)
	var pp pipeline.Prover = pr
	if cfg.WrapProver != nil {
		pp = cfg.WrapProver(pr)
	}
	pstart := time.Now()
	rep, err := pipeline.Run(ctx, pipeline.ShellConfig{
		Core:    pipeline.Config{BundleSize: uint64(cfg.Sim.BundleSize), MaxProving: max(1, cfg.MaxProving), Retries: cfg.Retries},
		Genesis: pipeline.Checkpoint{Hash: gh},
		Source:  sliceSource(events),
		Log:     log, Store: store, Prover: pp,
		Observe:      cfg.Observe,
		Logger:       cfg.Logger,
		MaxUnsettled: cfg.MaxUnsettled,
	})
	res.Report, res.PipelineWall = rep, time.Since(pstart)
	if err != nil {
		return res, err
	}
	res.Blocks = int(rep.Tip.Height)
	res.Txs = res.Blocks * cfg.Sim.TxsPerBlock
	if rep.Settlement != nil {
		if err := pr.VerifySettlement(ctx, *rep.Settlement); err != nil {
			return res, fmt.Errorf("the final aggregate proof: %w", err)
		}
		res.FinalVerified = true
	}
	res.Wall = time.Since(start)
	return res, nil
}
