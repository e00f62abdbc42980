package node

import (
	"context"
	"io"
	"sync"

	"github.com/proofd/proofd/pipeline"
	"github.com/proofd/proofd/pipeline/chainlog"
)

// inbox is what the ingest API accepted, durably and in order: the
// pipeline's source. Submit returns once the event is synced; the pipeline
// reads event n when it is ready for it.
type inbox struct {
	log *chainlog.Log

	mu        sync.Mutex
	known     map[pipeline.Hash]known // every block submitted at or above the finalized height, and genesis until then
	finalized uint64                  // the highest finality mark, clamped to the highest block submitted
	top       uint64                  // the highest block submitted
	changed   chan struct{}           // closed and replaced on every append
	consumed  uint64                  // the pipeline has asked for events below this
	draining  bool                    // stopping: the stream ends after what is logged
}

// known is where a submitted block sits: its height and the inbox event
// that carries it.
type known struct {
	height, seq uint64
	genesis     bool
}

func openInbox(dir string, genesis pipeline.Hash) (*inbox, error) {
	lg, err := chainlog.Open(dir, chainlog.Options{})
	if err != nil {
		return nil, err
	}
	in := &inbox{log: lg, known: map[pipeline.Hash]known{genesis: {genesis: true}}, changed: make(chan struct{})}
	err = lg.Replay(func(seq uint64, ev pipeline.Event) error {
		if ev.Block == nil {
			in.finalize(ev.Finalize)
			return nil
		}
		if _, ok := in.known[ev.Block.Hash]; !ok && ev.Block.Height >= in.finalized {
			in.known[ev.Block.Hash] = known{height: ev.Block.Height, seq: seq}
			in.top = max(in.top, ev.Block.Height)
		}
		return nil
	})
	if err != nil {
		lg.Close()
		return nil, err
	}
	return in, nil
}

func (in *inbox) Close() error { return in.log.Close() }

// submitResult is what submitting a block did.
type submitResult int

const (
	accepted submitResult = iota
	duplicate
	unknownParent
	badHeight
	belowFinality
	unknownBlock
	behind
)

// submit appends a block durably. A block already submitted is a
// duplicate (nothing written); one whose parent was never submitted, or
// whose height does not follow its parent's, is refused; so is any block
// while the pipeline lags more than maxBehind events. (What only the chain
// can judge, a fork below finality, the pipeline refuses and reports.)
func (in *inbox) submit(ev pipeline.Event, maxBehind int) (submitResult, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	_, dup := in.known[ev.Block.Hash]
	parent, hasParent := in.known[ev.Block.Parent]
	switch {
	case dup:
		return duplicate, nil
	case ev.Block.Height <= in.finalized:
		return belowFinality, nil
	case !hasParent:
		return unknownParent, nil
	case ev.Block.Height != parent.height+1:
		return badHeight, nil
	case in.lag() > uint64(maxBehind):
		return behind, nil
	}
	seq := in.log.Next()
	if err := in.append(ev); err != nil {
		return accepted, err
	}
	in.known[ev.Block.Hash] = known{height: ev.Block.Height, seq: seq}
	in.top = max(in.top, ev.Block.Height)
	return accepted, nil
}

// head makes a block submitted before the chain's head again (a reorg back
// to its fork: A → B → A) by logging its event once more; the pipeline
// takes a block it holds as a switch to that block's branch, and one already
// at the head as nothing. ok is false for a block never submitted.
func (in *inbox) head(h pipeline.Hash, maxBehind int) (submitResult, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	k, ok := in.known[h]
	if !ok || k.genesis {
		return unknownBlock, nil
	}
	if in.lag() > uint64(maxBehind) {
		return behind, nil
	}
	ev, found, err := in.log.Event(k.seq)
	if err != nil || !found {
		return unknownBlock, err
	}
	return accepted, in.append(ev)
}

// markFinal appends a finality mark durably, and forgets the blocks below
// it: no new block can build on them, so the index holds only the blocks
// from the finalized height up (its memory follows how far finality trails
// the tip, not the chain's length).
func (in *inbox) markFinal(height uint64, maxBehind int) (submitResult, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.lag() > uint64(maxBehind) {
		return behind, nil
	}
	if err := in.append(pipeline.Event{Finalize: height}); err != nil {
		return accepted, err
	}
	in.finalize(height)
	return accepted, nil
}

func (in *inbox) finalize(height uint64) {
	height = min(height, in.top)
	if height <= in.finalized {
		return
	}
	in.finalized = height
	for h, k := range in.known {
		if k.height < height {
			delete(in.known, h)
		}
	}
}

func (in *inbox) append(ev pipeline.Event) error {
	if err := in.log.Append(ev); err != nil {
		return err
	}
	close(in.changed)
	in.changed = make(chan struct{})
	return nil
}

// behind is how many accepted events the pipeline has not asked for yet.
func (in *inbox) behind() uint64 {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.lag()
}

// lag is behind, with mu held. Every call that appends checks it first
// under the same lock, so the lag never passes maxBehind+1.
func (in *inbox) lag() uint64 {
	return in.log.Next() - min(in.consumed, in.log.Next())
}

// drain ends the stream after the events logged so far (io.EOF), so the
// pipeline finishes and returns.
func (in *inbox) drain() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.draining = true
	close(in.changed)
	in.changed = make(chan struct{})
}

// Event serves the pipeline: event n, waiting until it is submitted.
func (in *inbox) Event(ctx context.Context, n uint64) (pipeline.Event, error) {
	for {
		in.mu.Lock()
		in.consumed = max(in.consumed, n)
		ev, ok, err := in.log.Event(n)
		wait, draining := in.changed, in.draining
		in.mu.Unlock()
		if err != nil || ok {
			return ev, err
		}
		if draining {
			return pipeline.Event{}, io.EOF
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return pipeline.Event{}, ctx.Err()
		}
	}
}

// parent is the parent of a submitted block.
func (in *inbox) parent(h pipeline.Hash) (pipeline.Hash, bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	k, ok := in.known[h]
	if !ok || k.genesis {
		return pipeline.Hash{}, false
	}
	ev, found, err := in.log.Event(k.seq)
	if err != nil || !found || ev.Block == nil {
		return pipeline.Hash{}, false
	}
	return ev.Block.Parent, true
}
