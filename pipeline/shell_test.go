package pipeline_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/proofd/proofd/pipeline"
	"github.com/proofd/proofd/pipeline/chainlog"
	"github.com/proofd/proofd/receipts"
)

// sliceSource serves a fixed list of events; stopAt, when set, makes event
// stopAt wait until the context ends (a node stopped mid-chain).
type sliceSource struct {
	events []pipeline.Event
	stopAt int
}

func (s *sliceSource) Event(ctx context.Context, n uint64) (pipeline.Event, error) {
	if s.stopAt > 0 && n >= uint64(s.stopAt) {
		<-ctx.Done()
		return pipeline.Event{}, ctx.Err()
	}
	if n >= uint64(len(s.events)) {
		return pipeline.Event{}, io.EOF
	}
	return s.events[n], nil
}

// hashProver makes "proofs" that are hashes of their keys, and refuses to
// prove what the store already holds durably: a shell that proves a durable
// receipt again fails the test.
type hashProver struct {
	t     *testing.T
	store *receipts.Store
	mu    sync.Mutex
	made  map[pipeline.Stage]int
	fail  map[pipeline.JobID]int // job → failures left
	stop  func(pipeline.JobID) bool
}

func (p *hashProver) Key(w pipeline.Work) (receipts.Key, error) {
	var fields []receipts.Field
	fields = append(fields, receipts.Field{Name: "payload", Value: w.Payload})
	for _, in := range w.Inputs {
		fields = append(fields, receipts.Field{Name: "input", Value: in.Receipt.Proof})
	}
	return receipts.Key{
		Checkpoint: w.Job.Height, Block: w.Job.Block, Kind: receipts.Kind(w.Job.Stage + 1),
		Statement: receipts.StatementDigest(fields...), Index: uint64(w.Job.Index),
	}, nil
}

func proofOf(k receipts.Key) []byte { h := sha256.Sum256(k.Encode()); return h[:] }

func (p *hashProver) Prove(ctx context.Context, w pipeline.Work, k receipts.Key) (receipts.Receipt, error) {
	if _, ok, _ := p.store.Get(k); ok {
		p.t.Errorf("proving %s again: its receipt is durable", w.Job)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stop != nil && p.stop(w.Job) {
		<-ctx.Done()
		return receipts.Receipt{}, ctx.Err()
	}
	if p.fail[w.Job] > 0 {
		p.fail[w.Job]--
		return receipts.Receipt{}, errors.New("engine hiccup")
	}
	p.made[w.Job.Stage]++
	return receipts.Receipt{Proof: proofOf(k)}, nil
}

func (p *hashProver) Check(_ context.Context, _ pipeline.Work, k receipts.Key, r receipts.Receipt) error {
	if string(r.Proof) != string(proofOf(k)) {
		return errors.New("proof does not verify")
	}
	return nil
}

func hashOf(fork, height int) pipeline.Hash {
	var h pipeline.Hash
	h[0], h[1] = byte(fork), byte(height)
	binary.BigEndian.PutUint64(h[8:], uint64(height))
	return h
}

var genesis = pipeline.Checkpoint{Hash: hashOf(0, 0)}

// chain builds events: fork f's block at height h has parent fork pf's
// block at h-1 (fork 0 at height 0 is genesis).
func block(fork, parentFork, height, txs int) pipeline.Event {
	parent := hashOf(parentFork, height-1)
	if height == 1 {
		parent = genesis.Hash
	}
	b := &pipeline.Block{Height: uint64(height), Hash: hashOf(fork, height), Parent: parent, Txs: txs}
	return pipeline.Event{Block: b, Payload: []byte(fmt.Sprintf("block %d/%d", fork, height))}
}

// flipChain: A1..A4, then B3 B4 (reorg), then A3 A4 again (a flip), then
// A5..A8 and finality through 4.
func flipChain() []pipeline.Event {
	var evs []pipeline.Event
	for h := 1; h <= 4; h++ {
		evs = append(evs, block(1, 1, h, 2))
	}
	evs = append(evs, block(2, 1, 3, 1), block(2, 2, 4, 1))
	evs = append(evs, block(1, 1, 3, 2), block(1, 1, 4, 2))
	for h := 5; h <= 8; h++ {
		evs = append(evs, block(1, 1, h, 2))
	}
	return append(evs, pipeline.Event{Finalize: 6})
}

type node struct {
	dir    string
	store  *receipts.Store
	log    *chainlog.Log
	prover *hashProver
}

func openNode(t *testing.T, dir string) *node {
	t.Helper()
	st, err := receipts.Open(dir+"/receipts", receipts.Options{})
	if err != nil {
		t.Fatal(err)
	}
	lg, err := chainlog.Open(dir+"/chain", chainlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	n := &node{dir: dir, store: st, log: lg, prover: &hashProver{t: t, store: st, made: map[pipeline.Stage]int{}, fail: map[pipeline.JobID]int{}}}
	t.Cleanup(n.close)
	return n
}

func (n *node) close() {
	if n.store != nil {
		n.store.Close()
		n.log.Close()
		n.store = nil
	}
}

func (n *node) run(ctx context.Context, src pipeline.Source) (*pipeline.Report, error) {
	return pipeline.Run(ctx, pipeline.ShellConfig{
		Core: pipeline.Config{BundleSize: 4, MaxProving: 2}, Genesis: genesis,
		Source: src, Log: n.log, Store: n.store, Prover: n.prover,
		Backoff: func(int) time.Duration { return 0 },
	})
}

func sum(xs [3]int) int { return xs[0] + xs[1] + xs[2] }

func TestShellFlipReorgAndRerun(t *testing.T) {
	dir := t.TempDir()
	n := openNode(t, dir)
	fails := pipeline.JobID{Stage: pipeline.StageTx, Height: 2, Block: hashOf(1, 2), Index: 1}
	n.prover.fail[fails] = 1
	rep, err := n.run(context.Background(), &sliceSource{events: flipChain()})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Failed) != 0 {
		t.Fatalf("failed: %v", rep.Failed)
	}
	if rep.Tip.Hash != hashOf(1, 8) {
		t.Fatalf("tip %v, want A8", rep.Tip)
	}
	if rep.Settlement == nil || rep.Settlement.Job.Height != 8 || rep.Settlement.Job.Block != hashOf(1, 8) {
		t.Fatalf("settlement %+v, want the aggregate of A8", rep.Settlement)
	}
	if rep.Reorgs != 2 || rep.Retries != 1 {
		t.Errorf("reorgs %d retries %d, want 2 and 1", rep.Reorgs, rep.Retries)
	}
	// Fork A: 16 txs, 8 batches, 2 aggregates; fork B adds at most 2 txs,
	// 2 batches and an aggregate, depending on how far it got.
	if rep.Made[0] < 16 || rep.Made[0] > 18 || rep.Made[1] < 8 || rep.Made[1] > 10 || rep.Made[2] < 2 || rep.Made[2] > 3 {
		t.Errorf("made %v", rep.Made)
	}
	n.close()

	// The same chain again on the same data: nothing to prove.
	n = openNode(t, dir)
	rep, err = n.run(context.Background(), &sliceSource{events: flipChain()})
	if err != nil {
		t.Fatal(err)
	}
	if sum(rep.Made) != 0 || rep.Accepted != 0 {
		t.Errorf("rerun made %v and accepted %d events, want nothing", rep.Made, rep.Accepted)
	}
	if rep.Settlement == nil || rep.Settlement.Job.Height != 8 {
		t.Errorf("rerun settlement %+v", rep.Settlement)
	}
	// Finality at 6 pruned the bundle ending at 4, on every fork.
	st, err := n.store.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if got := st[receipts.KindAggregate].Receipts; got != 1 {
		t.Errorf("%d aggregates stored after pruning through 4, want 1", got)
	}
}

func TestShellResumesAfterStop(t *testing.T) {
	for _, stopAt := range []pipeline.JobID{
		{Stage: pipeline.StageTx, Height: 3, Block: hashOf(1, 3), Index: 0},
		{Stage: pipeline.StageBatch, Height: 4, Block: hashOf(1, 4)},
		{Stage: pipeline.StageAggregate, Height: 8, Block: hashOf(1, 8)},
	} {
		t.Run(stopAt.String(), func(t *testing.T) {
			dir := t.TempDir()
			n := openNode(t, dir)
			ctx, cancel := context.WithCancel(context.Background())
			n.prover.stop = func(j pipeline.JobID) bool {
				if j == stopAt {
					cancel()
					return true
				}
				return false
			}
			first, err := n.run(ctx, &sliceSource{events: flipChain()})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("stopped run: %v", err)
			}
			n.close()
			n = openNode(t, dir) // the prover refuses to prove what is durable
			rep, err := n.run(context.Background(), &sliceSource{events: flipChain()})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Resumed == 0 {
				t.Errorf("the journal named no job in flight")
			}
			if rep.Settlement == nil || rep.Settlement.Job.Block != hashOf(1, 8) {
				t.Errorf("settlement %+v", rep.Settlement)
			}
			t.Logf("first run made %v, second %v (replayed %d events)", first.Made, rep.Made, rep.Replayed)
		})
	}
}

func TestShellBoundsIngest(t *testing.T) {
	n := openNode(t, t.TempDir())
	var evs []pipeline.Event
	for h := 1; h <= 40; h++ {
		evs = append(evs, block(1, 1, h, 1))
	}
	maxAhead := 0
	var published uint64
	_, err := pipeline.Run(context.Background(), pipeline.ShellConfig{
		Core: pipeline.Config{BundleSize: 4}, Genesis: genesis, MaxUnsettled: 3,
		Source: &sliceSource{events: evs}, Log: n.log, Store: n.store, Prover: n.prover,
		Observe: func(u pipeline.Update) {
			if u.Published != nil && u.Published.Stage == pipeline.StageBatch {
				published = max(published, u.Published.Height)
			}
			if u.Block != nil {
				maxAhead = max(maxAhead, int(u.Block.Height-published))
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if maxAhead > 3 {
		t.Errorf("ingest ran %d blocks ahead of the settled batches, bound 3", maxAhead)
	}
}

// A block the chain cannot take is refused and reported; the run goes on.
func TestShellRefusesBadBlocks(t *testing.T) {
	n := openNode(t, t.TempDir())
	orphan := block(7, 7, 3, 1) // its parent, fork 7 at height 2, never came
	evs := []pipeline.Event{block(1, 1, 1, 1), orphan, block(1, 1, 2, 1)}
	var refused []pipeline.Hash
	rep, err := pipeline.Run(context.Background(), pipeline.ShellConfig{
		Core: pipeline.Config{BundleSize: 2}, Genesis: genesis,
		Source: &sliceSource{events: evs}, Log: n.log, Store: n.store, Prover: n.prover,
		Observe: func(u pipeline.Update) {
			if u.Refused != nil {
				refused = append(refused, u.Refused.Hash)
				if !errors.Is(u.Err, pipeline.ErrUnknownParent) {
					t.Errorf("refused for %v, want ErrUnknownParent", u.Err)
				}
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Refused != 1 || len(refused) != 1 || refused[0] != orphan.Block.Hash {
		t.Fatalf("refused %d (%v), want the orphan", rep.Refused, refused)
	}
	if rep.Settlement == nil || rep.Settlement.Job.Height != 2 {
		t.Fatalf("settlement %+v, want the aggregate at 2", rep.Settlement)
	}
}
