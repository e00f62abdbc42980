package pipeline

import "testing"

func TestDepthCountsLiveJobsByState(t *testing.T) {
	c, err := New(Config{BundleSize: 2, MaxProving: 1})
	if err != nil {
		t.Fatal(err)
	}
	b1 := Block{Height: 1, Hash: Hash{1}, Txs: 2}
	effs, err := c.AddBlock(b1)
	if err != nil {
		t.Fatal(err)
	}
	// Two tx lookups out; the batch waits for them.
	if d := c.Depth(); d[StageTx].InFlight != 2 || d[StageBatch].Waiting != 1 || d[StageAggregate] != (Depth{}) {
		t.Fatalf("after the block: %+v (effects %v)", d, effs)
	}
	tx0 := JobID{Stage: StageTx, Height: 1, Block: b1.Hash}
	tx1 := JobID{Stage: StageTx, Height: 1, Block: b1.Hash, Index: 1}
	c.LookupDone(tx0, false) // missed: proving (the one slot)
	c.LookupDone(tx1, false) // missed: queued behind it
	if d := c.Depth(); d[StageTx].InFlight != 1 || d[StageTx].Queued != 1 {
		t.Fatalf("after two misses: %+v", d)
	}
	c.ProveDone(tx0, nil)
	c.Stored(tx0) // published: no longer counted
	if d := c.Depth(); d[StageTx].InFlight != 1 || d[StageTx].Queued != 0 || d[StageBatch].Waiting != 1 {
		t.Fatalf("after one proof: %+v", d)
	}
	if c.Finalized() != 0 {
		t.Errorf("finalized %d", c.Finalized())
	}
}
