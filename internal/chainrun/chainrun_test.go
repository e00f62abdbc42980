package chainrun_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/proofd/proofd/engine"
	"github.com/proofd/proofd/engine/enginetest"
	"github.com/proofd/proofd/engine/host"
	"github.com/proofd/proofd/engine/pool"
	"github.com/proofd/proofd/examples/rollup"
	"github.com/proofd/proofd/examples/rollup/prover"
	"github.com/proofd/proofd/internal/chainrun"
	"github.com/proofd/proofd/pipeline"
	enginev1 "github.com/proofd/proofd/proto/enginev1"
	"github.com/proofd/proofd/snark"
)

func TestMain(m *testing.M) { enginetest.Main(m) }

// countingPool is a pool of in-process snark engines that count the Prove
// calls reaching them: what "proven" means in these tests is measured at
// the engine, not in the pipeline's bookkeeping.
func countingPool(t *testing.T, size int) (*pool.Factory, *atomic.Int64) {
	t.Helper()
	var proves atomic.Int64
	f, err := pool.New(pool.Config{
		PoolSize: size,
		Start: func(ctx context.Context) (*engine.Conn, error) {
			cfg := snark.Config(nil)
			cfg.Hooks.CallDone = func(c host.Call) {
				if c.Method == enginev1.Snark_Prove_FullMethodName && c.Code == codes.OK {
					proves.Add(1)
				}
			}
			srv, err := host.NewServer(cfg)
			if err != nil {
				return nil, err
			}
			return engine.InProcess(ctx, srv.ServeInProcess())
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close(context.Background()) })
	return f, &proves
}

// smallSim is a chain small enough for CI: 4 blocks of 1 transfer, bundles
// of 2, one flip reorg.
func smallSim(seed int64) rollup.SimConfig {
	return rollup.SimConfig{Params: rollup.Params{Depth: 4, TxsPerBlock: 1, BundleSize: 2}, Seed: seed, Blocks: 4, Reorgs: 1, FinalityDepth: 2}
}

func TestFlipReorgProvesNothingAtTheEngine(t *testing.T) {
	if testing.Short() {
		t.Skip("sets up and proves a BW6-761 batch circuit (~30 s)")
	}
	ctx := context.Background()
	f, proves := countingPool(t, 1)
	sim := smallSim(3)
	evs, err := rollup.Simulate(sim)
	if err != nil {
		t.Fatal(err)
	}
	// The flip: a block hash accepted a second time, after another block
	// took its height.
	seen := map[[32]byte]bool{}
	flips := map[[32]byte]bool{}
	for _, ev := range evs {
		if ev.Block != nil {
			if seen[ev.Block.Hash] {
				flips[ev.Block.Hash] = true
			}
			seen[ev.Block.Hash] = true
		}
	}
	if len(flips) == 0 {
		t.Fatal("the simulated chain has no flip reorg")
	}

	var mu sync.Mutex
	var atFlip = map[[32]byte]int64{}
	var flipCost int64
	accepted := map[[32]byte]int{}
	dir := t.TempDir()
	res, err := chainrun.Run(ctx, chainrun.Config{
		Sim: sim, DataDir: dir, Pool: f, MaxProving: 1,
		MaxUnsettled: 1, // one block at a time: each settles before the next comes
		Observe: func(u pipeline.Update) {
			mu.Lock()
			defer mu.Unlock()
			switch {
			case u.Block != nil:
				accepted[u.Block.Hash]++
				if accepted[u.Block.Hash] == 2 {
					atFlip[u.Block.Hash] = proves.Load()
				}
			case u.Published != nil && u.Published.Stage == pipeline.StageBatch:
				if n, ok := atFlip[u.Published.Block]; ok {
					flipCost += proves.Load() - n
					delete(atFlip, u.Published.Block)
				}
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !res.FinalVerified {
		t.Fatal("final aggregate not verified")
	}
	if flipCost != 0 {
		t.Errorf("blocks that came back in a flip reorg cost %d proofs at the engine, want 0", flipCost)
	}
	made := res.Report.Made
	if got, want := proves.Load(), int64(made[0]+made[1]+made[2]); got != want {
		t.Errorf("engines saw %d Prove calls, the report says %d proofs were made", got, want)
	}
	if res.Report.Hits[pipeline.StageTx] == 0 {
		t.Errorf("no tx proof was found in the store across the flip: %+v", res.Report)
	}
	t.Logf("made %v, hits %v, reorgs %d, engine proves %d", made, res.Report.Hits, res.Report.Reorgs, proves.Load())

	// Again on the same data directory: zero calls reach an engine.
	before := proves.Load()
	res, err = chainrun.Run(ctx, chainrun.Config{Sim: sim, DataDir: dir, Pool: f, MaxProving: 1})
	if err != nil {
		t.Fatal(err)
	}
	if d := proves.Load() - before; d != 0 || !res.FinalVerified {
		t.Errorf("rerun on the same data: %d proves at the engine (want 0), final verified %v", d, res.FinalVerified)
	}
	for _, s := range res.Setup {
		if !s.Cached {
			t.Errorf("rerun ran the %s setup again instead of using the cached keys", s.Stage)
		}
	}
}

func TestDataDirRefusesAnotherChain(t *testing.T) {
	f, _ := countingPool(t, 1)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // claim the directory, then stop before any setup
	chainrun.Run(ctx, chainrun.Config{Sim: smallSim(1), DataDir: dir, Pool: f})
	_, err := chainrun.Run(context.Background(), chainrun.Config{Sim: smallSim(2), DataDir: dir, Pool: f})
	if err == nil {
		t.Fatal("a data directory of seed 1 accepted the chain of seed 2")
	}
	t.Log(err)
}

// TestDataDirRecordsProfile: the profile is part of the data directory's
// identity (a default-profile directory refuses the evm profile), and the
// evm profile's bundle size is checked before the directory is claimed.
func TestDataDirRecordsProfile(t *testing.T) {
	f, _ := countingPool(t, 1)
	sim := smallSim(1)
	sim.BundleSize = 1
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // claim the directory, then stop before any setup
	chainrun.Run(ctx, chainrun.Config{Sim: sim, DataDir: dir, Pool: f})
	_, err := chainrun.Run(context.Background(), chainrun.Config{Sim: sim, Profile: prover.ProfileEVM, DataDir: dir, Pool: f})
	if err == nil || !strings.Contains(err.Error(), "another chain") {
		t.Fatalf("a default-profile data directory, evm profile: %v", err)
	}
	other := t.TempDir()
	_, err = chainrun.Run(context.Background(), chainrun.Config{Sim: smallSim(1), Profile: prover.ProfileEVM, DataDir: other, Pool: f})
	if err == nil || !strings.Contains(err.Error(), "BundleSize must be 1") {
		t.Fatalf("evm profile, bundle size 2: %v", err)
	}
	if _, err := os.Stat(filepath.Join(other, "chain.json")); !os.IsNotExist(err) {
		t.Errorf("a refused profile claimed the directory (%v)", err)
	}
}
