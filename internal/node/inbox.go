package node

import (
	"context"
	"sync"

	"github.com/proofd/proofd/pipeline"
	"github.com/proofd/proofd/pipeline/chainlog"
)

// inbox is what the ingest API accepted, durably and in order: the
// pipeline's source. Submit returns once the event is synced; the pipeline
// reads event n when it is ready for it.
type inbox struct {
	log *chainlog.Log

	mu       sync.Mutex
	known    map[pipeline.Hash]bool // every block submitted, and genesis
	changed  chan struct{}          // closed and replaced on every append
	consumed uint64                 // the pipeline has asked for events below this
}

func openInbox(dir string, genesis pipeline.Hash) (*inbox, error) {
	lg, err := chainlog.Open(dir, chainlog.Options{})
	if err != nil {
		return nil, err
	}
	in := &inbox{log: lg, known: map[pipeline.Hash]bool{genesis: true}, changed: make(chan struct{})}
	err = lg.Replay(func(_ uint64, ev pipeline.Event) error {
		if ev.Block != nil {
			in.known[ev.Block.Hash] = true
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
	behind
)

// submit appends a block durably. A block already submitted is a
// duplicate (nothing written); one whose parent was never submitted is
// refused; so is any block while the pipeline lags more than maxBehind.
func (in *inbox) submit(ev pipeline.Event, maxBehind int) (submitResult, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	switch {
	case in.known[ev.Block.Hash]:
		return duplicate, nil
	case !in.known[ev.Block.Parent]:
		return unknownParent, nil
	case in.log.Next()-in.consumed > uint64(maxBehind):
		return behind, nil
	}
	if err := in.append(ev); err != nil {
		return accepted, err
	}
	in.known[ev.Block.Hash] = true
	return accepted, nil
}

// finalize appends a finality mark durably.
func (in *inbox) finalize(height uint64) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.append(pipeline.Event{Finalize: height})
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
	return in.log.Next() - min(in.consumed, in.log.Next())
}

// Event serves the pipeline: event n, waiting until it is submitted.
func (in *inbox) Event(ctx context.Context, n uint64) (pipeline.Event, error) {
	for {
		in.mu.Lock()
		in.consumed = max(in.consumed, n)
		ev, ok, err := in.log.Event(n)
		wait := in.changed
		in.mu.Unlock()
		if err != nil || ok {
			return ev, err
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return pipeline.Event{}, ctx.Err()
		}
	}
}
