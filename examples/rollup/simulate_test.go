package rollup

import (
	"bytes"
	"reflect"
	"testing"
)

// simParams are small params the fast tests share.
var simParams = Params{Depth: 4, TxsPerBlock: 2, BundleSize: 2}

func mustSimulate(t *testing.T, cfg SimConfig) []Event {
	t.Helper()
	events, err := Simulate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return events
}

func TestSimulateDeterministic(t *testing.T) {
	cfg := SimConfig{Params: simParams, Seed: 7, Blocks: 10, Reorgs: 3}
	a, b := mustSimulate(t, cfg), mustSimulate(t, cfg)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two runs with one seed differ")
	}
	cfg.Seed = 8
	if reflect.DeepEqual(a, mustSimulate(t, cfg)) {
		t.Fatal("seeds 7 and 8 give the same chain")
	}
}

// TestSimulateChain replays the events as a chain follower would and checks
// every invariant Simulate promises, over several seeds and shapes.
func TestSimulateChain(t *testing.T) {
	for _, cfg := range []SimConfig{
		{Params: simParams, Seed: 1},
		{Params: simParams, Seed: 2, Blocks: 20, Reorgs: 5},
		{Params: Params{Depth: 1, TxsPerBlock: 3, BundleSize: 1}, Seed: 3, Blocks: 6},
		{Params: Params{Depth: 32, TxsPerBlock: 1, BundleSize: 4}, Seed: 4, Blocks: 12, Reorgs: 4, FinalityDepth: 3},
		{Params: simParams, Seed: 5, Blocks: 3, Reorgs: -1},
	} {
		checkChain(t, cfg, mustSimulate(t, cfg))
	}
}

func checkChain(t *testing.T, cfg SimConfig, events []Event) {
	t.Helper()
	cfg, err := checkedSim(cfg)
	if err != nil {
		t.Fatal(err)
	}
	genesisHash, genesisRoot := Genesis(cfg.Params)
	roots := map[[32]byte]Root{genesisHash: genesisRoot}
	heights := map[[32]byte]uint64{genesisHash: 0}
	chain := [][32]byte{genesisHash} // canonical hashes by height
	byHeight := map[uint64][][32]byte{}
	var finalized uint64
	reorgs, flips := 0, 0
	for i, ev := range events {
		if ev.Block == nil {
			if ev.Finalize < finalized || ev.Finalize >= uint64(len(chain)) {
				t.Fatalf("event %d: finalize %d after %d, tip %d", i, ev.Finalize, finalized, len(chain)-1)
			}
			finalized = ev.Finalize
			continue
		}
		b := ev.Block
		if b.Hash != b.ComputeHash() {
			t.Fatalf("event %d: block %d hash is not ComputeHash()", i, b.Height)
		}
		ph, ok := heights[b.Parent]
		if !ok || b.Height != ph+1 {
			t.Fatalf("event %d: block %d has unknown parent or wrong height", i, b.Height)
		}
		if len(b.Txs) != cfg.TxsPerBlock {
			t.Fatalf("event %d: %d txs, want %d", i, len(b.Txs), cfg.TxsPerBlock)
		}
		if b.PrevRoot() != roots[b.Parent] {
			t.Fatalf("event %d: block %d does not start at its parent's root", i, b.Height)
		}
		for j := 1; j < len(b.Txs); j++ {
			if b.Txs[j].OldRoot != b.Txs[j-1].NewRoot {
				t.Fatalf("event %d: tx %d does not chain", i, j)
			}
		}
		for j := range b.Txs {
			if err := b.Txs[j].Check(); err != nil || len(b.Txs[j].Sender.Path) != cfg.Depth {
				t.Fatalf("event %d: tx %d malformed: %v", i, j, err)
			}
		}
		if b.Parent != chain[len(chain)-1] { // a reorg
			reorgs++
			if ph <= finalized {
				t.Fatalf("event %d: reorg forks at %d, finalized %d", i, ph, finalized)
			}
			if ph < 1 {
				t.Fatalf("event %d: reorg forks at genesis", i)
			}
			if chain[ph] != b.Parent {
				t.Fatalf("event %d: parent is not canonical", i)
			}
			// A flip: this exact block was at this height before another one.
			if _, seen := heights[b.Hash]; seen {
				flips++
			}
		}
		chain = append(chain[:ph+1], b.Hash)
		if _, seen := heights[b.Hash]; !seen {
			byHeight[b.Height] = append(byHeight[b.Height], b.Hash)
		}
		roots[b.Hash], heights[b.Hash] = b.Root(), b.Height
	}
	if got := uint64(len(chain) - 1); got != uint64(cfg.Blocks) {
		t.Errorf("tip at %d, want %d", got, cfg.Blocks)
	}
	if cfg.Reorgs > 0 && flips == 0 {
		t.Error("no flip reorg: no block came back after a competitor")
	}
	// A flip is two switches; every other reorg one.
	if want := cfg.Reorgs + min(cfg.Reorgs, 1); reorgs != want {
		t.Errorf("%d reorg switches, want %d", reorgs, want)
	}
	if cfg.Reorgs > 0 {
		forked := false
		for _, hs := range byHeight {
			forked = forked || len(hs) > 1
		}
		if !forked {
			t.Error("no height saw two blocks")
		}
	}
}

func TestSimulateErrors(t *testing.T) {
	_, err := Simulate(SimConfig{Params: Params{Depth: 40, TxsPerBlock: 17}, Blocks: -1, FinalityDepth: 1})
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, want := range []string{"Depth 40", "TxsPerBlock 17", "Blocks -1", "FinalityDepth 1"} {
		if !bytes.Contains([]byte(err.Error()), []byte(want)) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestGenesis(t *testing.T) {
	h1, r1 := Genesis(Params{})
	h2, r2 := Genesis(Params{Depth: 8, TxsPerBlock: 2, BundleSize: 4})
	if h1 != h2 || r1 != r2 || r1 == (Root{}) {
		t.Fatal("defaults and explicit defaults give different genesis")
	}
	if h3, _ := Genesis(Params{TxsPerBlock: 1}); h3 == h1 {
		t.Fatal("genesis hash ignores params")
	}
	if h, r := Genesis(Params{Depth: 99}); h != ([32]byte{}) || r != (Root{}) {
		t.Fatal("invalid params give a genesis")
	}
}
