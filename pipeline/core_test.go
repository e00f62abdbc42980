package pipeline

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func hash(id byte) Hash { return Hash{id} }

func blk(height uint64, id, parent byte, txs int) Block {
	return Block{Height: height, Hash: hash(id), Parent: hash(parent), Txs: txs}
}

func txJob(b Block, i int) JobID {
	return JobID{Stage: StageTx, Height: b.Height, Block: b.Hash, Index: i}
}
func batchJob(b Block) JobID { return JobID{Stage: StageBatch, Height: b.Height, Block: b.Hash} }
func aggJob(b Block) JobID   { return JobID{Stage: StageAggregate, Height: b.Height, Block: b.Hash} }

func newCore(t *testing.T, cfg Config) *Core {
	t.Helper()
	cfg.Base = Checkpoint{Hash: hash(0)}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// testShell carries out effects at once, everything succeeding, with a store
// that keeps what it is given.
type testShell struct {
	c         *Core
	store     map[JobID]bool
	proves    map[JobID]int
	published []JobID
	pruned    []uint64
}

func newTestShell(c *Core) *testShell {
	return &testShell{c: c, store: map[JobID]bool{}, proves: map[JobID]int{}}
}

func (s *testShell) run(effs []Effect) {
	for len(effs) > 0 {
		e := effs[0]
		effs = effs[1:]
		switch e := e.(type) {
		case Lookup:
			effs = append(effs, s.c.LookupDone(e.Job, s.store[e.Job])...)
		case Prove:
			s.proves[e.Job]++
			effs = append(effs, s.c.ProveDone(e.Job, nil)...)
		case Store:
			s.store[e.Job] = true
			effs = append(effs, s.c.Stored(e.Job)...)
		case Publish:
			s.published = append(s.published, e.Job)
		case Prune:
			s.pruned = append(s.pruned, e.Through)
		}
	}
}

func (s *testShell) add(t *testing.T, b Block) {
	t.Helper()
	effs, err := s.c.AddBlock(b)
	if err != nil {
		t.Fatal(err)
	}
	s.run(effs)
}

func wantEffects(t *testing.T, what string, got []Effect, want ...Effect) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s: effects %+v, want %+v", what, got, want)
	}
}

// TestCoreLinearChain pins one block's whole flow, then a bundle.
func TestCoreLinearChain(t *testing.T) {
	c := newCore(t, Config{BundleSize: 2})
	b1, b2 := blk(1, 1, 0, 1), blk(2, 2, 1, 0)
	effs, err := c.AddBlock(b1)
	if err != nil {
		t.Fatal(err)
	}
	wantEffects(t, "add b1", effs, Lookup{txJob(b1, 0)})
	wantEffects(t, "tx miss", c.LookupDone(txJob(b1, 0), false), Prove{txJob(b1, 0), 1})
	wantEffects(t, "tx proven", c.ProveDone(txJob(b1, 0), nil), Store{txJob(b1, 0)})
	wantEffects(t, "tx stored", c.Stored(txJob(b1, 0)), Publish{txJob(b1, 0)}, Lookup{batchJob(b1)})
	wantEffects(t, "batch hit", c.LookupDone(batchJob(b1), true), Publish{batchJob(b1)})
	effs, err = c.AddBlock(b2)
	if err != nil {
		t.Fatal(err)
	}
	wantEffects(t, "add b2 (no txs, ends a bundle)", effs, Lookup{batchJob(b2)})
	wantEffects(t, "b2 batch hit", c.LookupDone(batchJob(b2), true), Publish{batchJob(b2)}, Lookup{aggJob(b2)})
	wantEffects(t, "agg miss", c.LookupDone(aggJob(b2), false), Prove{aggJob(b2), 1})
	wantEffects(t, "agg proven", c.ProveDone(aggJob(b2), nil), Store{aggJob(b2)})
	wantEffects(t, "agg stored", c.Stored(aggJob(b2)), Publish{aggJob(b2)})
	if st := c.Stats(); st.Proves != [3]int{1, 0, 1} || st.Hits != [3]int{0, 2, 0} || st.Published != [3]int{1, 2, 1} {
		t.Fatalf("stats %+v", st)
	}
	if st, _ := c.Status(b2.Hash); st.Aggregate != JobPublished || st.Batch != JobPublished || !st.Canonical {
		t.Fatalf("status of b2: %+v", st)
	}
}

func TestCoreOneBlockReorg(t *testing.T) {
	c := newCore(t, Config{BundleSize: 2})
	s := newTestShell(c)
	a1, a2, b2 := blk(1, 1, 0, 2), blk(2, 2, 1, 1), blk(2, 3, 1, 1)
	s.add(t, a1)
	effs, _ := c.AddBlock(a2)
	if !slices.Equal(effs, []Effect{Lookup{txJob(a2, 0)}}) {
		t.Fatalf("add a2: %+v", effs)
	}
	// a2's lookup is left unanswered: queued work the reorg drops.
	s.published = nil
	s.add(t, b2)
	if got := c.LookupDone(txJob(a2, 0), false); got != nil {
		t.Fatalf("miss for the abandoned a2 asked for %+v, want nothing (dropped)", got)
	}
	want := []JobID{txJob(b2, 0), batchJob(b2), aggJob(b2)}
	if !slices.Equal(s.published, want) {
		t.Fatalf("published %v, want %v", s.published, want)
	}
	if st, _ := c.Status(a2.Hash); st.Canonical || st.Txs[0] != JobNone {
		t.Fatalf("a2 after the reorg: %+v", st)
	}
	if c.Stats().Reorgs != 1 || c.Tip() != (Checkpoint{2, b2.Hash}) {
		t.Fatalf("reorgs %d tip %+v", c.Stats().Reorgs, c.Tip())
	}
}

// TestCoreFlipReorgProofInFlight: a proof running on fork A when the chain
// moves to B finishes: it is stored, not published; when A comes back,
// nothing is proven again, whether the proof finished before or after.
func TestCoreFlipReorgProofInFlight(t *testing.T) {
	for _, finishFirst := range []bool{true, false} {
		name := map[bool]string{true: "finishes on B", false: "finishes after A is back"}[finishFirst]
		t.Run(name, func(t *testing.T) {
			c := newCore(t, Config{BundleSize: 4, MaxProving: 2})
			s := newTestShell(c)
			a1, b1 := blk(1, 1, 0, 1), blk(1, 2, 0, 0)
			c.AddBlock(a1)
			wantEffects(t, "a1 tx miss", c.LookupDone(txJob(a1, 0), false), Prove{txJob(a1, 0), 1})
			s.add(t, b1)
			if finishFirst {
				wantEffects(t, "orphan proven", c.ProveDone(txJob(a1, 0), nil), Store{txJob(a1, 0)})
				s.store[txJob(a1, 0)] = true
				wantEffects(t, "orphan stored: no publish", c.Stored(txJob(a1, 0)))
				s.add(t, a1)
			} else {
				effs, err := c.AddBlock(a1)
				if err != nil {
					t.Fatal(err)
				}
				wantEffects(t, "a1 back with its proof in flight", effs)
				s.run(c.ProveDone(txJob(a1, 0), nil))
			}
			if !slices.Contains(s.published, txJob(a1, 0)) || !slices.Contains(s.published, batchJob(a1)) {
				t.Fatalf("published %v: a1's tx and batch missing", s.published)
			}
			if st := c.Stats(); st.Proves != [3]int{1, 2, 0} || st.Reorgs != 2 {
				t.Fatalf("stats %+v: want 1 tx proof (a1) and 2 batch proofs (a1, b1), 2 reorgs", st)
			}
		})
	}
}

func TestCoreUnknownParent(t *testing.T) {
	c := newCore(t, Config{})
	_, err := c.AddBlock(blk(1, 1, 9, 0))
	if !errors.Is(err, ErrUnknownParent) || !strings.Contains(err.Error(), hash(9).String()) {
		t.Fatalf("got %v, want ErrUnknownParent naming parent %s", err, hash(9))
	}
	if _, err := c.AddBlock(blk(2, 1, 0, 0)); err == nil {
		t.Fatal("a block at height 2 on the base at 0 was accepted")
	}
}

func TestCoreRetryBudget(t *testing.T) {
	boom := errors.New("boom")
	c := newCore(t, Config{Retries: 1})
	b := blk(1, 1, 0, 2)
	c.AddBlock(b)
	c.LookupDone(txJob(b, 0), false)
	wantEffects(t, "first failure", c.ProveDone(txJob(b, 0), boom), Prove{txJob(b, 0), 2})
	effs := c.ProveDone(txJob(b, 0), boom)
	if len(effs) != 1 || !errors.Is(effs[0].(Failed).Err, boom) || effs[0].(Failed).Job != txJob(b, 0) {
		t.Fatalf("second failure: %+v, want Failed wrapping boom", effs)
	}
	c.LookupDone(txJob(b, 1), false)
	effs = c.ProveDone(txJob(b, 1), ErrPermanent)
	if len(effs) != 1 || !errors.Is(effs[0].(Failed).Err, ErrPermanent) {
		t.Fatalf("permanent failure: %+v, want Failed at once", effs)
	}
	if st, _ := c.Status(b.Hash); st.Txs[0] != JobFailed || st.Batch != JobWaiting {
		t.Fatalf("status %+v", st)
	}
	if st := c.Stats(); st.Retries != 1 || st.Failures != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestCoreFinalizeAndPrune(t *testing.T) {
	c := newCore(t, Config{BundleSize: 2})
	s := newTestShell(c)
	for h := uint64(1); h <= 4; h++ {
		s.add(t, blk(h, byte(h), byte(h-1), 1))
	}
	s.add(t, blk(3, 13, 2, 0)) // a side fork at 3, pruned with everything below the checkpoint
	s.add(t, blk(3, 3, 2, 1))  // and back
	effs, err := c.Finalize(3)
	if err != nil {
		t.Fatal(err)
	}
	wantEffects(t, "finalize 3", effs, Prune{2})
	if _, ok := c.Status(hash(1)); ok {
		t.Fatal("block 1 still held after pruning through 2")
	}
	if _, err := c.AddBlock(blk(3, 20, 2, 0)); !errors.Is(err, ErrFinalized) {
		t.Fatalf("reorg to height 2 after finalizing 3: %v, want ErrFinalized", err)
	}
	if _, err := c.Finalize(5); err == nil {
		t.Fatal("finalized above the tip")
	}
}

func TestConfigValidate(t *testing.T) {
	cfg := Config{BundleSize: 3, MaxProving: -1, Retries: -2, Base: Checkpoint{Height: 4}}
	err := cfg.Validate()
	for _, want := range []string{"Base height 4", "MaxProving -1", "Retries -2"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate: %v, want it to mention %q", err, want)
		}
	}
	if err := new(Config).EnsureDefaults().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
}

// TestCoreRegressionAdoptedMissWaitsForInputs pins what rapid found with
// dispatch not checking inputs: an aggregate's lookup, out when its block
// left the chain and adopted when it came back, misses before the block's
// batch is published again; it must wait for it before it is proven.
func TestCoreRegressionAdoptedMissWaitsForInputs(t *testing.T) {
	c := newCore(t, Config{BundleSize: 1})
	a1, b1 := blk(1, 1, 0, 0), blk(1, 2, 0, 0)
	c.AddBlock(a1)
	wantEffects(t, "a1 batch hit", c.LookupDone(batchJob(a1), true), Publish{batchJob(a1)}, Lookup{aggJob(a1)})
	c.AddBlock(b1)
	effs, _ := c.AddBlock(a1)
	wantEffects(t, "a1 back, its aggregate's lookup still out", effs, Lookup{batchJob(a1)})
	wantEffects(t, "aggregate miss before the batch is republished", c.LookupDone(aggJob(a1), false))
	wantEffects(t, "batch hit", c.LookupDone(batchJob(a1), true), Publish{batchJob(a1)}, Prove{aggJob(a1), 1})
}

// TestCoreRegressionPruneWaitsForOrphans pins what rapid found with prune
// not checking jobs in flight: an orphan's work at a finalized height must
// end before its receipts are pruned, or its write would outlive the
// delete.
func TestCoreRegressionPruneWaitsForOrphans(t *testing.T) {
	c := newCore(t, Config{BundleSize: 1})
	s := newTestShell(c)
	a1, b1 := blk(1, 1, 0, 0), blk(1, 2, 0, 2)
	s.add(t, a1)
	c.AddBlock(b1) // two tx lookups out, left unanswered
	s.add(t, a1)   // a1 back, proven again from the store
	effs, err := c.Finalize(1)
	if err != nil {
		t.Fatal(err)
	}
	wantEffects(t, "finalize with the orphans' lookups out", effs)
	wantEffects(t, "first orphan done", c.LookupDone(txJob(b1, 0), false))
	wantEffects(t, "last orphan done", c.LookupDone(txJob(b1, 1), true), Prune{1})
}

// TestCorePriority: one proving slot goes to the lowest bundle first, and
// within a bundle to the later stage, so the oldest settlement completes
// before new work starts.
func TestCorePriority(t *testing.T) {
	c := newCore(t, Config{BundleSize: 2})
	b1, b2, b3, b4 := blk(1, 1, 0, 0), blk(2, 2, 1, 1), blk(3, 3, 2, 1), blk(4, 4, 3, 0)
	for _, b := range []Block{b1, b2, b3, b4} {
		if _, err := c.AddBlock(b); err != nil {
			t.Fatal(err)
		}
	}
	wantEffects(t, "b3's tx misses first", c.LookupDone(txJob(b3, 0), false), Prove{txJob(b3, 0), 1})
	for _, id := range []JobID{txJob(b2, 0), batchJob(b1), batchJob(b4)} {
		wantEffects(t, id.String()+" misses, the slot is taken", c.LookupDone(id, false))
	}
	wantEffects(t, "slot free: bundle 1's batch", c.ProveDone(txJob(b3, 0), nil), Store{txJob(b3, 0)}, Prove{batchJob(b1), 1})
	wantEffects(t, "slot free: bundle 1's tx before bundle 2's batch", c.ProveDone(batchJob(b1), nil), Store{batchJob(b1)}, Prove{txJob(b2, 0), 1})
}

// TestCoreDepth counts one tiny chain's live jobs by what they wait for,
// step by step: two blocks of one tx each, one bundle of two.
func TestCoreDepth(t *testing.T) {
	c := newCore(t, Config{BundleSize: 2})
	b1, b2 := blk(1, 1, 0, 1), blk(2, 2, 1, 1)
	want := func(what string, tx, batch, agg Depth) {
		t.Helper()
		if got := c.Depth(); got != [3]Depth{tx, batch, agg} {
			t.Fatalf("%s: depth %+v, want %+v", what, got, [3]Depth{tx, batch, agg})
		}
	}
	want("empty", Depth{}, Depth{}, Depth{})
	c.AddBlock(b1)
	want("b1 added: its tx looked up, its batch waits", Depth{InFlight: 1}, Depth{Waiting: 1}, Depth{})
	c.AddBlock(b2)
	want("b2 added: its aggregate waits too", Depth{InFlight: 2}, Depth{Waiting: 2}, Depth{Waiting: 1})
	c.LookupDone(txJob(b1, 0), false) // proving slot taken: b1's tx proves
	c.LookupDone(txJob(b2, 0), false) // b2's tx queues
	want("both tx missed, one slot", Depth{InFlight: 1, Queued: 1}, Depth{Waiting: 2}, Depth{Waiting: 1})
	c.ProveDone(txJob(b1, 0), nil) // b1's tx stores; b2's tx takes the slot
	want("b1's tx storing, b2's proving", Depth{InFlight: 2}, Depth{Waiting: 2}, Depth{Waiting: 1})
	c.Stored(txJob(b1, 0)) // published: no longer counted; b1's batch looked up
	want("b1's tx published", Depth{InFlight: 1}, Depth{Waiting: 1, InFlight: 1}, Depth{Waiting: 1})
	c.AddBlock(blk(2, 3, 1, 0)) // reorg: b2's tx proof in flight becomes an orphan, not counted
	want("b2 replaced by a block without txs", Depth{}, Depth{InFlight: 2}, Depth{Waiting: 1})
}
