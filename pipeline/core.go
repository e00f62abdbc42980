package pipeline

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
)

var (
	// ErrUnknownParent: a block's parent is neither the base nor a block the
	// core holds.
	ErrUnknownParent = errors.New("unknown parent")
	// ErrFinalized: a block would reorganize the chain below its finalized
	// height.
	ErrFinalized = errors.New("reorg below the finalized height")
	// ErrPermanent marks a proving error that retrying cannot fix (bad
	// input, a poison request); the shell wraps such errors with it.
	ErrPermanent = errors.New("permanent proving failure")
)

// JobState is what a job is doing.
type JobState uint8

const (
	JobNone      JobState = iota // no such job: not a bundle's end, or not held
	JobWaiting                   // its inputs are not all published yet
	JobLookingUp                 // a Lookup is out
	JobQueued                    // missed in the store, waiting for a proving slot
	JobProving                   // a Prove is out
	JobStoring                   // proven; a Store is out
	JobDurable                   // in the store, not (yet) published
	JobPublished                 // in the store and published on the canonical chain
	JobFailed                    // out of retries
)

func (s JobState) String() string {
	return [...]string{"none", "waiting", "looking up", "queued", "proving", "storing", "durable", "published", "failed"}[s]
}

func (s JobState) inFlight() bool {
	return s == JobLookingUp || s == JobProving || s == JobStoring
}

type job struct {
	id    JobID
	state JobState // never JobPublished: that is state JobDurable with published set
	// orphan marks an in-flight job whose block left the canonical chain.
	// It finishes (a proof is still stored: its key names its fork) but
	// publishes nothing, and is forgotten once done.
	orphan    bool
	published bool
	attempts  int
}

type node struct {
	b         Block
	canonical bool
}

// Core is the pipeline's decision logic as a plain state machine: no
// goroutines, clocks or I/O. The shell feeds it events (a method call each)
// and carries out the effects each returns, in order. See doc.go for its
// invariants.
type Core struct {
	cfg       Config
	base      Checkpoint
	finalized uint64
	blocks    map[Hash]*node // every block held: canonical or on a side fork above base
	canon     []Hash         // canon[i] is the canonical block at height base.Height+1+i
	jobs      map[JobID]*job // live jobs of canonical blocks, and orphans in flight
	proving   int            // Prove effects out, orphans included
	stats     Stats
	out       []Effect
}

// Stats counts what the core has asked for and seen.
type Stats struct {
	Proves    [3]int // Prove effects, by Stage (retries included)
	Hits      [3]int // lookups that found the proof
	Misses    [3]int
	Published [3]int
	Reorgs    int // blocks that moved the tip off its own chain
	Retries   int
	Failures  int
}

// BlockStatus is what a block's jobs are doing.
type BlockStatus struct {
	Height    uint64
	Canonical bool
	Txs       []JobState
	Batch     JobState
	Aggregate JobState // JobNone unless the block ends a bundle
}

// New returns a core holding only cfg.Base, after filling cfg's defaults.
func New(cfg Config) (*Core, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Core{
		cfg:       cfg,
		base:      cfg.Base,
		finalized: cfg.Base.Height,
		blocks:    map[Hash]*node{},
		jobs:      map[JobID]*job{},
	}, nil
}

// Tip is the canonical chain's last block.
func (c *Core) Tip() Checkpoint {
	if len(c.canon) == 0 {
		return c.base
	}
	h := c.canon[len(c.canon)-1]
	return Checkpoint{Height: c.blocks[h].b.Height, Hash: h}
}

// Stats reports the counters.
func (c *Core) Stats() Stats { return c.stats }

// Depth is one stage's live jobs (orphans excluded) by what they wait for.
type Depth struct {
	Waiting  int // for their inputs to be published
	Queued   int // missed in the store, for a proving slot
	InFlight int // a lookup, proof or store is out
	Durable  int // stored, not yet published
}

// Depth reports the live jobs of each stage (indexed by Stage).
func (c *Core) Depth() [3]Depth {
	var d [3]Depth
	for _, j := range c.jobs {
		if j.orphan || j.published {
			continue
		}
		st := &d[j.id.Stage]
		switch {
		case j.state == JobWaiting:
			st.Waiting++
		case j.state == JobQueued:
			st.Queued++
		case j.state.inFlight():
			st.InFlight++
		case j.state == JobDurable:
			st.Durable++
		}
	}
	return d
}

// Finalized is the height below which the chain no longer reorganizes.
func (c *Core) Finalized() uint64 { return c.finalized }

// AddBlock accepts a block from the chain source. A block whose parent is
// not the tip is a reorg: the chain rolls back to the common ancestor and
// takes the block's branch (a block the core already holds on a side fork
// brings its whole branch back). Re-adding a canonical block does nothing.
func (c *Core) AddBlock(b Block) ([]Effect, error) {
	if n, ok := c.blocks[b.Hash]; ok {
		if n.b != b {
			return nil, fmt.Errorf("pipeline: block %s: height %d, parent %s, %d txs differ from the block of that hash already accepted (height %d, parent %s, %d txs)",
				b.Hash, b.Height, b.Parent, b.Txs, n.b.Height, n.b.Parent, n.b.Txs)
		}
		if n.canonical {
			return nil, nil
		}
	} else if err := c.checkNew(b); err != nil {
		return nil, err
	}
	branch, fork := c.branch(b)
	if fork < c.finalized {
		return nil, fmt.Errorf("pipeline: block %s at height %d forks at height %d, below the finalized height %d: %w", b.Hash, b.Height, fork, c.finalized, ErrFinalized)
	}
	if _, ok := c.blocks[b.Hash]; !ok {
		c.blocks[b.Hash] = &node{b: b}
	}
	if c.Tip().Height > fork {
		c.stats.Reorgs++
		c.rollback(fork)
	}
	for _, nb := range branch {
		c.apply(nb)
	}
	return c.settle(), nil
}

func (c *Core) checkNew(b Block) error {
	if b.Txs < 0 {
		return fmt.Errorf("pipeline: block %s at height %d: %d transactions", b.Hash, b.Height, b.Txs)
	}
	var parentHeight uint64
	switch p, ok := c.blocks[b.Parent]; {
	case b.Parent == c.base.Hash:
		parentHeight = c.base.Height
	case ok:
		parentHeight = p.b.Height
	default:
		return fmt.Errorf("pipeline: block %s at height %d: parent %s: %w", b.Hash, b.Height, b.Parent, ErrUnknownParent)
	}
	if b.Height != parentHeight+1 {
		return fmt.Errorf("pipeline: block %s at height %d: its parent %s is at height %d", b.Hash, b.Height, b.Parent, parentHeight)
	}
	return nil
}

// branch returns the blocks from just above b's first canonical ancestor up
// to b, oldest first, and that ancestor's height (the fork point).
func (c *Core) branch(b Block) ([]Block, uint64) {
	var path []Block
	for {
		path = append(path, b)
		if b.Parent == c.base.Hash {
			slices.Reverse(path)
			return path, c.base.Height
		}
		p := c.blocks[b.Parent]
		if p.canonical {
			slices.Reverse(path)
			return path, p.b.Height
		}
		b = p.b
	}
}

// rollback takes canonical blocks above height fork off the chain. Their
// jobs are forgotten, except those in flight, which become orphans.
func (c *Core) rollback(fork uint64) {
	for c.Tip().Height > fork {
		n := c.blocks[c.canon[len(c.canon)-1]]
		c.canon = c.canon[:len(c.canon)-1]
		n.canonical = false
		for _, id := range c.jobsOf(n.b) {
			j := c.jobs[id]
			switch {
			case j == nil:
			case j.state.inFlight():
				j.orphan, j.published = true, false
			default:
				delete(c.jobs, id)
			}
		}
	}
}

// apply puts b on top of the canonical chain. An orphan of b still in
// flight is adopted instead of starting its job again.
func (c *Core) apply(b Block) {
	c.blocks[b.Hash].canonical = true
	c.canon = append(c.canon, b.Hash)
	ids := c.jobsOf(b)
	for _, id := range ids {
		if j := c.jobs[id]; j != nil {
			j.orphan = false
		} else {
			c.jobs[id] = &job{id: id, state: JobWaiting}
		}
	}
	for _, id := range ids {
		c.advance(c.jobs[id])
	}
}

func (c *Core) jobsOf(b Block) []JobID {
	ids := make([]JobID, 0, b.Txs+2)
	for i := range b.Txs {
		ids = append(ids, JobID{Stage: StageTx, Height: b.Height, Block: b.Hash, Index: i})
	}
	ids = append(ids, JobID{Stage: StageBatch, Height: b.Height, Block: b.Hash})
	if b.Height%c.cfg.BundleSize == 0 {
		ids = append(ids, JobID{Stage: StageAggregate, Height: b.Height, Block: b.Hash})
	}
	return ids
}

// canonical returns the canonical block at height h (above base).
func (c *Core) canonical(h uint64) (Block, bool) {
	if h <= c.base.Height || h-c.base.Height > uint64(len(c.canon)) {
		return Block{}, false
	}
	return c.blocks[c.canon[h-c.base.Height-1]].b, true
}

func (c *Core) published(id JobID) bool {
	j := c.jobs[id]
	return j != nil && j.published
}

// inputsPublished reports whether everything a live job proves over is
// published: a batch's tx proofs, an aggregate's batch proofs.
func (c *Core) inputsPublished(id JobID) bool {
	switch id.Stage {
	case StageBatch:
		b := c.blocks[id.Block].b
		for i := range b.Txs {
			if !c.published(JobID{Stage: StageTx, Height: b.Height, Block: b.Hash, Index: i}) {
				return false
			}
		}
	case StageAggregate:
		for h := id.Height - c.cfg.BundleSize + 1; h <= id.Height; h++ {
			b, _ := c.canonical(h)
			if !c.published(JobID{Stage: StageBatch, Height: h, Block: b.Hash}) {
				return false
			}
		}
	}
	return true
}

// advance moves a live job (never an orphan: a canonical block's jobs are
// live) on when its inputs allow: a waiting job starts with a lookup, a
// durable one is published.
func (c *Core) advance(j *job) {
	if !c.inputsPublished(j.id) {
		return
	}
	switch {
	case j.state == JobWaiting:
		j.state = JobLookingUp
		c.emit(Lookup{Job: j.id})
	case j.state == JobDurable && !j.published:
		c.publish(j)
	}
}

func (c *Core) publish(j *job) {
	j.published = true
	c.stats.Published[j.id.Stage]++
	c.emit(Publish{Job: j.id})
	switch j.id.Stage {
	case StageTx:
		c.advance(c.jobs[JobID{Stage: StageBatch, Height: j.id.Height, Block: j.id.Block}])
	case StageBatch:
		end := (j.id.Height + c.cfg.BundleSize - 1) / c.cfg.BundleSize * c.cfg.BundleSize
		if b, ok := c.canonical(end); ok {
			c.advance(c.jobs[JobID{Stage: StageAggregate, Height: end, Block: b.Hash}])
		}
	}
}

// LookupDone reports a Lookup's answer. News of a job the core is not
// looking up is stale and ignored.
func (c *Core) LookupDone(id JobID, hit bool) []Effect {
	j := c.jobs[id]
	if j == nil || j.state != JobLookingUp {
		return nil
	}
	switch {
	case hit:
		c.stats.Hits[id.Stage]++
		c.durable(j)
	case j.orphan: // queued work of an abandoned fork is dropped
		c.stats.Misses[id.Stage]++
		delete(c.jobs, id)
	default:
		c.stats.Misses[id.Stage]++
		j.state = JobQueued
	}
	return c.settle()
}

// ProveDone reports a Prove's outcome. A failed proof is queued again until
// the retry budget is spent (never, if err wraps ErrPermanent), then Failed.
func (c *Core) ProveDone(id JobID, err error) []Effect {
	j := c.jobs[id]
	if j == nil || j.state != JobProving {
		return nil
	}
	c.proving--
	switch {
	case err == nil:
		j.state = JobStoring
		c.emit(Store{Job: id})
	case j.orphan:
		delete(c.jobs, id)
	case errors.Is(err, ErrPermanent) || j.attempts > c.cfg.Retries:
		j.state = JobFailed
		c.stats.Failures++
		c.emit(Failed{Job: id, Err: fmt.Errorf("pipeline: proving %s failed after %d attempts: %w", id, j.attempts, err)})
	default:
		c.stats.Retries++
		j.state = JobQueued
	}
	return c.settle()
}

// Stored reports that a Store is durable.
func (c *Core) Stored(id JobID) []Effect {
	j := c.jobs[id]
	if j == nil || j.state != JobStoring {
		return nil
	}
	c.durable(j)
	return c.settle()
}

func (c *Core) durable(j *job) {
	if j.orphan {
		delete(c.jobs, j.id)
		return
	}
	j.state = JobDurable
	c.advance(j)
}

// Finalize says the chain up to height can no longer reorganize. Receipts
// are pruned through the last bundle end at or below it once that
// bundle's and all earlier aggregates are published.
func (c *Core) Finalize(height uint64) ([]Effect, error) {
	if tip := c.Tip().Height; height > tip {
		return nil, fmt.Errorf("pipeline: finalize height %d: above the tip at height %d", height, tip)
	}
	c.finalized = max(c.finalized, height)
	return c.settle(), nil
}

// settle runs what every event may have unblocked, and hands out the
// effects gathered.
func (c *Core) settle() []Effect {
	c.dispatch()
	c.prune()
	out := c.out
	c.out = nil
	return out
}

func (c *Core) emit(e Effect) { c.out = append(c.out, e) }

// dispatch hands free proving slots to queued live jobs: lowest bundle
// first, later stages first within it, so the oldest settlement completes
// before new work starts.
func (c *Core) dispatch() {
	for c.proving < c.cfg.MaxProving {
		var best *job
		for _, j := range c.jobs {
			if j.state == JobQueued && !j.orphan && c.inputsPublished(j.id) && (best == nil || c.before(j.id, best.id)) {
				best = j
			}
		}
		if best == nil {
			return
		}
		best.state = JobProving
		best.attempts++
		c.proving++
		c.stats.Proves[best.id.Stage]++
		c.emit(Prove{Job: best.id, Attempt: best.attempts})
	}
}

func (c *Core) before(a, b JobID) bool {
	ba, bb := (a.Height-1)/c.cfg.BundleSize, (b.Height-1)/c.cfg.BundleSize
	if ba != bb {
		return ba < bb
	}
	if a.Stage != b.Stage {
		return a.Stage > b.Stage
	}
	if a.Height != b.Height {
		return a.Height < b.Height
	}
	return a.Index < b.Index
}

// prune emits Prune through the highest finalized bundle end below which
// every aggregate is published and no job is in flight (so no write races
// the delete), and forgets everything at or below it.
func (c *Core) prune() {
	lowestInFlight := uint64(math.MaxUint64)
	for _, j := range c.jobs {
		if j.state.inFlight() {
			lowestInFlight = min(lowestInFlight, j.id.Height)
		}
	}
	through := c.base.Height
	for end := through + c.cfg.BundleSize; end <= c.finalized && end < lowestInFlight; end += c.cfg.BundleSize {
		b, _ := c.canonical(end)
		if !c.published(JobID{Stage: StageAggregate, Height: end, Block: b.Hash}) {
			break
		}
		through = end
	}
	if through == c.base.Height {
		return
	}
	c.emit(Prune{Through: through})
	b, _ := c.canonical(through)
	c.canon = c.canon[through-c.base.Height:]
	c.base = Checkpoint{Height: through, Hash: b.Hash}
	for id := range c.jobs {
		if id.Height <= through {
			delete(c.jobs, id)
		}
	}
	// Keep only the new base's descendants: side forks from below it can
	// never come back.
	nodes := make([]*node, 0, len(c.blocks))
	for _, n := range c.blocks {
		nodes = append(nodes, n)
	}
	slices.SortFunc(nodes, func(x, y *node) int { return cmp.Compare(x.b.Height, y.b.Height) })
	keep := map[Hash]bool{c.base.Hash: true}
	for _, n := range nodes {
		if n.b.Height > through && keep[n.b.Parent] {
			keep[n.b.Hash] = true
		} else {
			delete(c.blocks, n.b.Hash)
		}
	}
}

// Status reports what the jobs of the block with hash h are doing; false if
// the core does not hold that block.
func (c *Core) Status(h Hash) (BlockStatus, bool) {
	n, ok := c.blocks[h]
	if !ok {
		return BlockStatus{}, false
	}
	st := BlockStatus{Height: n.b.Height, Canonical: n.canonical, Txs: make([]JobState, n.b.Txs)}
	for _, id := range c.jobsOf(n.b) {
		s := JobNone
		if j := c.jobs[id]; j != nil {
			s = j.state
			if j.published {
				s = JobPublished
			}
		}
		switch id.Stage {
		case StageTx:
			st.Txs[id.Index] = s
		case StageBatch:
			st.Batch = s
		case StageAggregate:
			st.Aggregate = s
		}
	}
	return st, true
}

// Base is the block the core grows from: Config.Base, or the checkpoint of
// the last Prune effect.
func (c *Core) Base() Checkpoint { return c.base }

// Canonical returns the canonical block at height h, above the base.
func (c *Core) Canonical(h uint64) (Block, bool) { return c.canonical(h) }

// Unsettled counts the canonical blocks whose batch proof is neither
// published nor failed: the work a shell lets pile up before it stops
// taking blocks from its source.
func (c *Core) Unsettled() int {
	n := 0
	for _, h := range c.canon {
		b := c.blocks[h].b
		j := c.jobs[JobID{Stage: StageBatch, Height: b.Height, Block: h}]
		if j != nil && (j.published || j.state == JobFailed || c.blocked(b)) {
			continue
		}
		n++
	}
	return n
}

// blocked reports whether one of b's tx jobs failed for good, so its batch
// can never be published on this fork.
func (c *Core) blocked(b Block) bool {
	for i := range b.Txs {
		if j := c.jobs[JobID{Stage: StageTx, Height: b.Height, Block: b.Hash, Index: i}]; j != nil && j.state == JobFailed {
			return true
		}
	}
	return false
}
