package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/proofd/proofd/receipts"
)

// Event is what a chain source delivers: a block with its payload, or the
// news that the chain is final up to a height.
type Event struct {
	Block    *Block
	Payload  []byte // the block's contents: opaque here, handed to the Prover
	Finalize uint64 // when Block is nil
}

// Source is the chain a node follows.
type Source interface {
	// Event returns the chain's event number n (from 0), waiting until it
	// exists; io.EOF after the last.
	Event(ctx context.Context, n uint64) (Event, error)
}

// Log is the durable record of what the node accepted (chainlog.Log).
type Log interface {
	Next() uint64
	Append(Event) error
	Base() (cp Checkpoint, ok bool, err error)
	Rebase(Checkpoint) error
	Replay(fn func(seq uint64, ev Event) error) error
	Begin(job JobID, attempt int) error
	End(job JobID) error
	InFlight() (map[JobID]int, error)
}

// Receipts is the receipt store (receipts.Store).
type Receipts interface {
	Get(k receipts.Key) (receipts.Receipt, bool, error)
	Put(ctx context.Context, k receipts.Key, r receipts.Receipt) error
	Prune(through uint64) error
}

// Input is a published proof that a job proves over.
type Input struct {
	Job     JobID
	Key     receipts.Key
	Receipt receipts.Receipt
	Payload []byte // the payload of the input's block
}

// Work is one job as a Prover sees it.
type Work struct {
	Job     JobID
	Payload []byte // the payload of the job's block
	// Inputs: a batch's tx proofs in index order; an aggregate's batch
	// proofs, oldest first. Empty for a tx.
	Inputs []Input
	// Attempt is the core's attempt at proving the job, from 1 (zero for a
	// lookup's Check). A queue across hosts keys its deduplication by it.
	Attempt int
}

// Prover knows what the stages prove: it names receipts and makes and
// checks proofs (on an engine pool, say).
type Prover interface {
	// Key names the job's receipt: its image and statement.
	Key(w Work) (receipts.Key, error)
	// Prove makes the job's proof and verifies it. An error wrapping
	// ErrPermanent is not retried.
	Prove(ctx context.Context, w Work, k receipts.Key) (receipts.Receipt, error)
	// Check verifies a receipt found by lookup before it is published.
	Check(ctx context.Context, w Work, k receipts.Key, r receipts.Receipt) error
}

// Update tells an observer what just happened; one field is set.
type Update struct {
	Block     *Block // a block was accepted
	Refused   *Block // a block the chain could not take (Err says why): its parent is unknown or pruned, it forks below finality, or its height does not follow
	Reorg     bool   // ... and it reorganized the chain
	Published *JobID // a proof was published (its receipt in Input)
	Proved    *JobID // a proof was made (took Took)
	Hit       *JobID // a lookup found a proof
	Retry     *JobID // a proof failed and will be retried
	Failed    *JobID // a job failed for good (Err)
	Pruned    uint64 // receipts through this height were pruned
	Took      time.Duration
	Err       error
	Input     *Input
	// Depth is every stage's live jobs after the event (indexed by Stage).
	Depth [3]Depth
}

// View is what a Query may read of the core: nothing that changes it.
type View interface {
	Status(h Hash) (BlockStatus, bool)
	Canonical(height uint64) (Block, bool)
	Tip() Checkpoint
	Base() Checkpoint
	Finalized() uint64
	Depth() [3]Depth
}

// ShellConfig configures Run. Source, Log, Store and Prover are required.
type ShellConfig struct {
	Core    Config     // Core.Base is replaced by the log's base, or Genesis
	Genesis Checkpoint // the base until the first prune
	Source  Source
	Log     Log
	Store   Receipts
	Prover  Prover
	// MaxUnsettled bounds the canonical blocks not yet settled (batch
	// published) before ingest waits for proving (default 2*BundleSize).
	MaxUnsettled int
	// Lookups bounds the lookups in flight (default 4).
	Lookups int
	// Backoff is the wait before attempt n (n ≥ 2) of one proof; default
	// exponential from 100 ms with jitter, at most 5 s.
	Backoff func(attempt int) time.Duration
	// Observe, when set, is told of progress, from Run's goroutine.
	Observe func(Update)
	// Queries, when set, carries functions Run calls with the core between
	// events, on its own goroutine: the way for another goroutine to read
	// the chain's state. A query must not block.
	Queries <-chan func(View)
	Logger  *slog.Logger
}

// Report is what a Run did.
type Report struct {
	Replayed  int    // logged events replayed at start
	Resumed   int    // jobs the journal said were in flight at start
	Accepted  int    // new events taken from the source
	Made      [3]int // proofs made, by Stage (engine calls that succeeded)
	Hits      [3]int // proofs found by lookup, by Stage
	Published [3]int
	Reorgs    int // reorgs among the new events
	Refused   int // new blocks the chain could not take (see Update.Refused)
	Retries   int
	Corrupt   int // lookups that met a corrupt or stale value (proved again)
	Failed    []error
	ProveTime [3]time.Duration // summed time in Prover.Prove, by Stage
	Tip       Checkpoint
	// Settlement is the highest published aggregate, if any.
	Settlement *Input
}

// Run follows the source from where the log left off until it ends (io.EOF)
// and every job it brought is settled, carrying the core's effects out on
// the prover and the store. A cancelled ctx stops it after the calls in
// flight return.
func Run(ctx context.Context, cfg ShellConfig) (*Report, error) {
	s, err := newShell(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return s.run()
}

type shell struct {
	cfg    ShellConfig
	ctx    context.Context
	cancel context.CancelFunc
	core   *Core
	log    *slog.Logger
	rep    Report

	payloads  map[Hash][]byte
	held      map[JobID]Input        // proofs found or made, by job: stored or about to be
	missed    map[JobID]receipts.Key // keys of jobs the store did not have: what Prove makes
	published map[JobID]bool
	inflight  int // goroutines out
	done      chan func() []Effect
	lookups   chan struct{} // semaphore
	queue     []Effect
	fetching  bool
	eof       bool
	wg        sync.WaitGroup
	fatal     error
	baseStats Stats
}

func newShell(ctx context.Context, cfg ShellConfig) (*shell, error) {
	if cfg.Source == nil || cfg.Log == nil || cfg.Store == nil || cfg.Prover == nil {
		return nil, errors.New("pipeline: Source, Log, Store and Prover are required")
	}
	cfg.Core.EnsureDefaults()
	if cfg.MaxUnsettled == 0 {
		cfg.MaxUnsettled = 2 * int(cfg.Core.BundleSize)
	}
	if cfg.Lookups == 0 {
		cfg.Lookups = 4
	}
	if cfg.Backoff == nil {
		cfg.Backoff = defaultBackoff
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	base, ok, err := cfg.Log.Base()
	if err != nil {
		return nil, err
	}
	if !ok {
		base = cfg.Genesis
	}
	cfg.Core.Base = base
	core, err := New(cfg.Core)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	return &shell{
		cfg: cfg, ctx: ctx, cancel: cancel, core: core, log: cfg.Logger,
		payloads: map[Hash][]byte{}, held: map[JobID]Input{}, missed: map[JobID]receipts.Key{}, published: map[JobID]bool{},
		done: make(chan func() []Effect), lookups: make(chan struct{}, cfg.Lookups),
	}, nil
}

func defaultBackoff(attempt int) time.Duration {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval = 100*time.Millisecond, 5*time.Second
	var d time.Duration
	for range attempt - 1 {
		d = b.NextBackOff()
	}
	return d
}

func (s *shell) run() (*Report, error) {
	defer s.cancel()
	if err := s.replay(); err != nil {
		return nil, err
	}
	for {
		s.drain()
		if s.fatal != nil {
			break
		}
		s.maybeFetch()
		if s.inflight == 0 && len(s.queue) == 0 {
			if !s.eof {
				// Nothing runs and ingest is held back: only jobs that can
				// never finish are left (Unsettled counts none of those).
				s.fail(fmt.Errorf("pipeline: stalled with %d unsettled blocks and nothing in flight", s.core.Unsettled()))
			}
			break // the source ended and nothing is left to do
		}
		select {
		case f := <-s.done:
			s.inflight--
			s.queue = append(s.queue, f()...)
		case q := <-s.cfg.Queries:
			q(s.core)
		case <-s.ctx.Done():
			s.fail(s.ctx.Err())
		}
	}
	if err := s.ctx.Err(); err != nil {
		s.fail(err) // stopped, even if the last call in flight ended the loop
	}
	s.cancel()
	for s.inflight > 0 { // let the calls in flight return
		<-s.done
		s.inflight--
	}
	s.wg.Wait()
	s.report()
	if s.fatal != nil {
		return &s.rep, s.fatal
	}
	return &s.rep, nil
}

func (s *shell) fail(err error) {
	if s.fatal == nil {
		s.fatal = err
	}
}

// replay feeds the core the logged events: what the node accepted before.
// A block whose parent went with a prune (a fork from below the base) is
// skipped.
func (s *shell) replay() error {
	inflight, err := s.cfg.Log.InFlight()
	if err != nil {
		return err
	}
	s.rep.Resumed = len(inflight)
	if len(inflight) > 0 {
		s.log.Info("resuming after a stop", "jobs_in_flight", len(inflight))
	}
	err = s.cfg.Log.Replay(func(seq uint64, ev Event) error {
		s.rep.Replayed++
		if ev.Block != nil && ev.Block.Height <= s.core.Base().Height {
			return nil
		}
		effs, err := s.accept(ev)
		if err != nil {
			return nil // refused when it came, or its fork was pruned since
		}
		s.queue = append(s.queue, effs...)
		return nil
	})
	s.baseStats = s.core.Stats()
	return err
}

// accept hands an event to the core.
func (s *shell) accept(ev Event) ([]Effect, error) {
	if ev.Block == nil {
		return s.core.Finalize(min(ev.Finalize, s.core.Tip().Height))
	}
	before := s.core.Stats().Reorgs
	effs, err := s.core.AddBlock(*ev.Block)
	if err != nil {
		return nil, err
	}
	s.payloads[ev.Block.Hash] = ev.Payload
	s.observe(Update{Block: ev.Block, Reorg: s.core.Stats().Reorgs > before})
	return effs, nil
}

func (s *shell) observe(u Update) {
	if s.cfg.Observe != nil {
		u.Depth = s.core.Depth()
		s.cfg.Observe(u)
	}
}

// maybeFetch asks the source for the next event when the backlog allows.
func (s *shell) maybeFetch() {
	if s.fetching || s.eof || s.fatal != nil || s.core.Unsettled() >= s.cfg.MaxUnsettled {
		return
	}
	s.fetching = true
	n := s.cfg.Log.Next()
	s.spawn(func() func() []Effect {
		ev, err := s.cfg.Source.Event(s.ctx, n)
		return func() []Effect {
			s.fetching = false
			switch {
			case errors.Is(err, io.EOF):
				s.eof = true
				return nil
			case err != nil:
				s.fail(fmt.Errorf("pipeline: source event %d: %w", n, err))
				return nil
			}
			if err := s.cfg.Log.Append(ev); err != nil {
				s.fail(err)
				return nil
			}
			s.rep.Accepted++
			effs, err := s.accept(ev)
			if err != nil {
				// A block the chain cannot take (its parent unknown or
				// pruned, a fork below finality, a height that does not
				// follow its parent's) is refused, not fatal: the source
				// is outside this process. Replay refuses it again.
				s.rep.Refused++
				s.log.Warn("block refused", "event", n, "err", err)
				s.observe(Update{Refused: ev.Block, Err: err})
			}
			return effs
		}
	})
}

// spawn runs f off the loop; the closure it returns runs on the loop.
func (s *shell) spawn(f func() func() []Effect) {
	s.inflight++
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.done <- f()
	}()
}

// drain carries out the queued effects.
func (s *shell) drain() {
	for len(s.queue) > 0 && s.fatal == nil {
		e := s.queue[0]
		s.queue = s.queue[1:]
		s.effect(e)
	}
}

func (s *shell) effect(e Effect) {
	switch e := e.(type) {
	case Lookup:
		s.lookup(e.Job)
	case Prove:
		s.prove(e.Job, e.Attempt)
	case Store:
		s.store(e.Job)
	case Publish:
		s.published[e.Job] = true
		in := s.held[e.Job]
		s.observe(Update{Published: &e.Job, Input: &in})
		// Bundles may settle out of order (a later one found by lookup
		// before an earlier one is proven): report the highest.
		if e.Job.Stage == StageAggregate && (s.rep.Settlement == nil || e.Job.Height > s.rep.Settlement.Job.Height) {
			s.rep.Settlement = &in
		}
	case Prune:
		s.prune(e.Through)
	case Failed:
		s.rep.Failed = append(s.rep.Failed, e.Err)
		s.log.Error("proof failed for good", "job", e.Job.String(), "err", e.Err)
		s.observe(Update{Failed: &e.Job, Err: e.Err})
		if err := s.cfg.Log.End(e.Job); err != nil {
			s.fail(err)
		}
	}
}

// work gathers what the prover needs for job: its block's payload and the
// published proofs it proves over.
func (s *shell) work(job JobID) (Work, error) {
	w := Work{Job: job, Payload: s.payloads[job.Block]}
	input := func(id JobID) error {
		in, ok := s.held[id]
		if !ok || !s.published[id] {
			return fmt.Errorf("pipeline: %s: input %s is not published", job, id)
		}
		in.Payload = s.payloads[id.Block]
		w.Inputs = append(w.Inputs, in)
		return nil
	}
	switch job.Stage {
	case StageBatch:
		n, ok := s.core.blocks[job.Block]
		if !ok {
			return w, fmt.Errorf("pipeline: %s: block not held", job)
		}
		for i := range n.b.Txs {
			if err := input(JobID{Stage: StageTx, Height: job.Height, Block: job.Block, Index: i}); err != nil {
				return w, err
			}
		}
	case StageAggregate:
		for h := job.Height - s.cfg.Core.BundleSize + 1; h <= job.Height; h++ {
			b, ok := s.core.Canonical(h)
			if !ok {
				return w, fmt.Errorf("pipeline: %s: no canonical block at height %d", job, h)
			}
			if err := input(JobID{Stage: StageBatch, Height: h, Block: b.Hash}); err != nil {
				return w, err
			}
		}
	}
	return w, nil
}

// lookup looks the job's proof up in the store and checks a hit before the
// core may publish it. A corrupt or stale value is logged and proved again
// (the new proof overwrites it).
func (s *shell) lookup(job JobID) {
	w, err := s.work(job)
	if err != nil {
		s.fail(err)
		return
	}
	s.spawn(func() func() []Effect {
		s.lookups <- struct{}{}
		defer func() { <-s.lookups }()
		k, err := s.cfg.Prover.Key(w)
		if err != nil {
			return func() []Effect { s.fail(fmt.Errorf("pipeline: key of %s: %w", job, err)); return nil }
		}
		r, hit, err := s.cfg.Store.Get(k)
		corrupt := false
		if err != nil {
			if !errors.Is(err, receipts.ErrCorrupt) && !errors.Is(err, receipts.ErrStale) {
				return func() []Effect { s.fail(err); return nil }
			}
			s.log.Warn("stored receipt unusable; proving again", "job", job.String(), "err", err)
			corrupt, hit = true, false
		}
		if hit {
			if err := s.cfg.Prover.Check(s.ctx, w, k, r); err != nil {
				s.log.Warn("stored receipt does not verify; proving again", "job", job.String(), "err", err)
				corrupt, hit = true, false
			}
		}
		return func() []Effect {
			if corrupt {
				s.rep.Corrupt++
			}
			if hit {
				s.held[job] = Input{Job: job, Key: k, Receipt: r}
				s.rep.Hits[job.Stage]++
				s.observe(Update{Hit: &job})
			} else {
				s.missed[job] = k // a job is proved only after its lookup missed
			}
			return s.core.LookupDone(job, hit)
		}
	})
}

// prove journals the attempt, backs off before a retry, and asks the
// prover. Bad input and poison requests (ErrPermanent) are not retried.
func (s *shell) prove(job JobID, attempt int) {
	w, err := s.work(job)
	if err != nil {
		s.fail(err)
		return
	}
	w.Attempt = attempt
	k, ok := s.missed[job]
	if !ok {
		s.fail(fmt.Errorf("pipeline: prove %s: no lookup missed it", job))
		return
	}
	if err := s.cfg.Log.Begin(job, attempt); err != nil {
		s.fail(err)
		return
	}
	s.spawn(func() func() []Effect {
		if attempt > 1 {
			select {
			case <-time.After(s.cfg.Backoff(attempt)):
			case <-s.ctx.Done():
			}
		}
		start := time.Now()
		r, err := s.cfg.Prover.Prove(s.ctx, w, k)
		took := time.Since(start)
		return func() []Effect {
			if s.ctx.Err() != nil {
				return nil // stopping: the journal keeps the job for the restart
			}
			s.rep.ProveTime[job.Stage] += took
			if err != nil {
				s.log.Warn("proving failed", "job", job.String(), "attempt", attempt, "err", err)
				before := s.core.Stats().Retries
				effs := s.core.ProveDone(job, err)
				if s.core.Stats().Retries > before {
					s.observe(Update{Retry: &job, Err: err})
				}
				return effs
			}
			s.rep.Made[job.Stage]++
			delete(s.missed, job)
			s.held[job] = Input{Job: job, Key: k, Receipt: r}
			s.observe(Update{Proved: &job, Took: took})
			return s.core.ProveDone(job, nil)
		}
	})
}

// store writes the proof durably, then ends its journal entry.
func (s *shell) store(job JobID) {
	in, ok := s.held[job]
	if !ok {
		s.fail(fmt.Errorf("pipeline: store %s: no proof held", job))
		return
	}
	s.spawn(func() func() []Effect {
		err := s.cfg.Store.Put(s.ctx, in.Key, in.Receipt)
		if err == nil {
			err = s.cfg.Log.End(job)
		}
		return func() []Effect {
			if err != nil {
				s.fail(fmt.Errorf("pipeline: store %s: %w", job, err))
				return nil
			}
			return s.core.Stored(job)
		}
	})
}

// prune moves the log's base first, then deletes the receipts (see
// chainlog's doc for why that order), and forgets what lies below.
func (s *shell) prune(through uint64) {
	if err := s.cfg.Log.Rebase(s.core.Base()); err != nil {
		s.fail(err)
		return
	}
	if err := s.cfg.Store.Prune(through); err != nil {
		s.fail(err)
		return
	}
	for id := range s.held {
		if id.Height <= through && (s.rep.Settlement == nil || id != s.rep.Settlement.Job) {
			delete(s.held, id)
			delete(s.published, id)
		}
	}
	for id := range s.missed {
		if id.Height <= through {
			delete(s.missed, id)
		}
	}
	for h := range s.payloads {
		if _, ok := s.core.blocks[h]; !ok {
			delete(s.payloads, h)
		}
	}
	s.observe(Update{Pruned: through})
}

func (s *shell) report() {
	st := s.core.Stats()
	s.rep.Reorgs = st.Reorgs - s.baseStats.Reorgs
	s.rep.Retries = st.Retries - s.baseStats.Retries
	s.rep.Published = st.Published
	s.rep.Tip = s.core.Tip()
}
