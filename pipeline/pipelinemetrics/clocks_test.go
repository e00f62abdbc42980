package pipelinemetrics

import (
	"testing"
	"time"

	"github.com/proofd/proofd/pipeline"
)

func block(h uint64, id, parent byte) pipeline.Block {
	return pipeline.Block{Height: h, Hash: pipeline.Hash{id}, Parent: pipeline.Hash{parent}}
}

// The bundle an aggregate settles is its block and that block's ancestors
// down to the bundle's first height, not whatever sits at those heights:
// a side fork's block stays until a prune passes it, and a block that
// comes back keeps its first acceptance time.
func TestClocksSettleWalksTheBundlesOwnAncestors(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	c := newClocks(2)
	c.accept(block(1, 1, 0), at(0))
	c.accept(block(2, 2, 1), at(1))
	c.accept(block(3, 3, 2), at(2))
	c.accept(block(3, 13, 2), at(3)) // a side fork at 3
	c.accept(block(4, 4, 3), at(4))
	c.accept(block(3, 3, 2), at(9)) // 3 comes back: its first time stays
	if d, ok := c.age(pipeline.Hash{3}, at(10)); !ok || d != 8*time.Second {
		t.Fatalf("age of 3 at 10: %v %v, want 8s from its first acceptance", d, ok)
	}
	if d, ok := c.settle(pipeline.Hash{4}, at(10)); !ok || d != 8*time.Second {
		t.Fatalf("settle bundle (3, 4) at 10: %v %v, want 8s (3 accepted at 2)", d, ok)
	}
	for _, h := range []byte{3, 4} {
		if _, ok := c.blocks[pipeline.Hash{h}]; ok {
			t.Errorf("block %d still held after its bundle settled", h)
		}
	}
	if len(c.blocks) != 3 {
		t.Fatalf("held %v, want blocks 1, 2 and the side fork 13", c.blocks)
	}
	if _, ok := c.settle(pipeline.Hash{4}, at(11)); ok {
		t.Fatal("a bundle settled twice: the second publication has nothing to time")
	}
	if d, ok := c.settle(pipeline.Hash{2}, at(12)); !ok || d != 12*time.Second {
		t.Fatalf("settle bundle (1, 2) after (3, 4): %v %v, want 12s", d, ok)
	}
	c.prune(2)
	if len(c.blocks) != 1 {
		t.Fatalf("held %v after pruning through 2, want only the side fork at 3", c.blocks)
	}
	c.prune(4)
	if len(c.blocks) != 0 {
		t.Fatalf("held %v after pruning through 4", c.blocks)
	}
}
