package pipelinemetrics

import (
	"time"

	"github.com/proofd/proofd/pipeline"
)

// accepted is when a block was first accepted, and where it sits.
type accepted struct {
	height uint64
	parent pipeline.Hash
	at     time.Time
}

// clocks remembers when each block was accepted, to time its jobs to their
// publication and its bundle to its aggregate's. An entry lives from the
// block's first acceptance until the aggregate covering it is published
// (settle) or a prune passes its height (prune), so clocks holds only
// blocks above the last prune.
type clocks struct {
	bundle uint64
	blocks map[pipeline.Hash]accepted
}

func newClocks(bundle uint64) *clocks {
	return &clocks{bundle: bundle, blocks: map[pipeline.Hash]accepted{}}
}

// accept records b's acceptance at now, unless it is already recorded (a
// block that comes back in a reorg keeps its first time).
func (c *clocks) accept(b pipeline.Block, now time.Time) {
	if _, ok := c.blocks[b.Hash]; !ok {
		c.blocks[b.Hash] = accepted{height: b.Height, parent: b.Parent, at: now}
	}
}

// age is how long ago block h was accepted; false if it is not recorded.
func (c *clocks) age(h pipeline.Hash, now time.Time) (time.Duration, bool) {
	a, ok := c.blocks[h]
	if !ok {
		return 0, false
	}
	return now.Sub(a.at), true
}

// settle forgets the bundle that ends with block end (end and its
// ancestors down to the bundle's first height) and returns how long ago
// the earliest of them was accepted; false if none is recorded.
func (c *clocks) settle(end pipeline.Hash, now time.Time) (time.Duration, bool) {
	a, ok := c.blocks[end]
	if !ok {
		return 0, false
	}
	first := a.height - min(a.height, c.bundle-1)
	earliest := a.at
	for h := end; ; h = a.parent {
		a, ok = c.blocks[h]
		if !ok || a.height < first {
			break
		}
		if a.at.Before(earliest) {
			earliest = a.at
		}
		delete(c.blocks, h)
	}
	return now.Sub(earliest), true
}

// prune forgets every block at or below height through.
func (c *clocks) prune(through uint64) {
	for h, a := range c.blocks {
		if a.height <= through {
			delete(c.blocks, h)
		}
	}
}
