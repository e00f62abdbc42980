package node

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/proofd/proofd/pipeline"
)

func ev(h, parent byte, height uint64) pipeline.Event {
	return pipeline.Event{Block: &pipeline.Block{Height: height, Hash: pipeline.Hash{h}, Parent: pipeline.Hash{parent}, Txs: 1}, Payload: []byte{h}}
}

// The inbox's promises without any proving: duplicates, unknown parents and
// wrong heights are refused, a lagging pipeline gets "behind", a head moves
// back to a known block, and a drained inbox ends the stream.
func TestInbox(t *testing.T) {
	dir := t.TempDir()
	in, err := openInbox(dir, pipeline.Hash{0})
	if err != nil {
		t.Fatal(err)
	}
	submit := func(e pipeline.Event, want submitResult) {
		t.Helper()
		if got, err := in.submit(e, 2); err != nil || got != want {
			t.Fatalf("submit %x: %v, %v; want %v", e.Block.Hash[:1], got, err, want)
		}
	}
	submit(ev(1, 0, 1), accepted)
	submit(ev(1, 0, 1), duplicate)
	submit(ev(9, 8, 2), unknownParent)
	submit(ev(2, 1, 5), badHeight)
	submit(ev(2, 1, 2), accepted)
	submit(ev(3, 2, 3), accepted)
	submit(ev(4, 3, 4), behind) // three events, none taken by the pipeline

	ctx := context.Background()
	for n := range uint64(3) {
		got, err := in.Event(ctx, n)
		if err != nil || got.Block.Hash[0] != byte(n+1) {
			t.Fatalf("event %d: %+v, %v", n, got, err)
		}
	}
	submit(ev(4, 3, 4), accepted) // the pipeline caught up
	if res, err := in.head(pipeline.Hash{2}, 2); res != accepted || err != nil {
		t.Fatalf("head back to block 2: %v, %v", res, err)
	}
	if res, _ := in.head(pipeline.Hash{7}, 2); res != unknownBlock {
		t.Fatalf("head to an unknown block: %v", res)
	}
	if got, err := in.Event(ctx, 4); err != nil || got.Block.Hash != (pipeline.Hash{2}) {
		t.Fatalf("event 4 after head: %+v, %v", got, err)
	}
	// Every call that appends is held to the same lag: 5 events, 4 taken.
	if res, _ := in.head(pipeline.Hash{3}, 0); res != behind {
		t.Fatalf("head while behind: %v", res)
	}
	if res, _ := in.markFinal(1, 0); res != behind {
		t.Fatalf("finalize while behind: %v", res)
	}

	// Event waits for what is not there yet, and a drain ends the wait.
	done := make(chan error, 1)
	go func() { _, err := in.Event(ctx, 5); done <- err }()
	select {
	case err := <-done:
		t.Fatalf("event 5 returned before it existed: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	in.drain()
	if err := <-done; !errors.Is(err, io.EOF) {
		t.Fatalf("after drain: %v, want io.EOF", err)
	}
	in.Close()

	// Reopened, it still knows every block.
	in, err = openInbox(dir, pipeline.Hash{0})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() }) // the inbox open at the end
	if got, _ := in.submit(ev(3, 2, 3), 100); got != duplicate {
		t.Fatalf("after reopen, a known block: %v", got)
	}

	// Finality forgets the blocks below it: the index holds the finalized
	// block and what is above, across a reopen too.
	if res, err := in.markFinal(3, 100); res != accepted || err != nil {
		t.Fatal(err)
	}
	check := func() {
		t.Helper()
		if len(in.known) != 2 { // blocks 3 and 4
			t.Fatalf("after finality at 3 the index holds %d blocks, want 2", len(in.known))
		}
		if got, _ := in.submit(ev(2, 1, 2), 100); got != belowFinality {
			t.Fatalf("block 2 again after finality at 3: %v", got)
		}
		if got, _ := in.submit(ev(3, 2, 3), 100); got != duplicate {
			t.Fatalf("the finalized block again: %v", got)
		}
	}
	check()
	in.Close()
	if in, err = openInbox(dir, pipeline.Hash{0}); err != nil {
		t.Fatal(err)
	}
	check()
	if got, _ := in.submit(ev(5, 4, 5), 100); got != accepted {
		t.Fatalf("a new block on the tip: %v", got)
	}
	if _, err := in.markFinal(99, 100); err != nil || in.finalized != 5 {
		t.Fatalf("finality above the tip is clamped to it: %d, %v", in.finalized, err)
	}
}
