package pipeline

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// pipeModel drives Core like a shell would, with the outcomes and the order
// of lookups, proofs and writes chosen by rapid. It keeps its own account
// of the chain (every block ever made, the canonical chain, what is
// finalized) and plays the store: once a proof is stored, lookups hit. It
// checks the core's invariants on every effect and after every step.
type pipeModel struct {
	core      *Core
	cfg       Config
	made      []Block // every block made, in order
	byHash    map[Hash]Block
	held      map[Hash]bool // blocks the core accepted and still holds (a restart forgets side forks)
	canon     []Block       // above base, oldest first
	base      Checkpoint
	finalized uint64
	store     map[JobID]bool
	proven    map[JobID]int // successful proofs, less those lost to a restart before they were stored
	pending   []outstanding // effects out, oldest first
	published map[JobID]bool
	failed    map[JobID]bool
	seen      []JobID // every job an effect named, for stale news
}

type outstanding struct {
	kind string // "lookup", "prove" or "store"
	job  JobID
}

func (m *pipeModel) newBlock(parent Checkpoint, txs int) Block {
	var h Hash
	binary.LittleEndian.PutUint64(h[:], uint64(len(m.made)+1))
	b := Block{Height: parent.Height + 1, Hash: h, Parent: parent.Hash, Txs: txs}
	m.made = append(m.made, b)
	m.byHash[h] = b
	return b
}

func (m *pipeModel) tip() Checkpoint {
	if len(m.canon) == 0 {
		return m.base
	}
	b := m.canon[len(m.canon)-1]
	return Checkpoint{b.Height, b.Hash}
}

func (m *pipeModel) at(h uint64) Block { return m.canon[h-m.base.Height-1] }

func (m *pipeModel) onCanon(id JobID) bool {
	return id.Height > m.base.Height && id.Height <= m.tip().Height && m.at(id.Height).Hash == id.Block
}

func (m *pipeModel) inputsPublished(id JobID) bool {
	switch id.Stage {
	case StageBatch:
		for i := range m.byHash[id.Block].Txs {
			if !m.published[JobID{StageTx, id.Height, id.Block, i}] {
				return false
			}
		}
	case StageAggregate:
		for h := id.Height - m.cfg.BundleSize + 1; h <= id.Height; h++ {
			if !m.published[JobID{StageBatch, h, m.at(h).Hash, 0}] {
				return false
			}
		}
	}
	return true
}

func (m *pipeModel) outstandingFor(id JobID) int {
	return slices.IndexFunc(m.pending, func(o outstanding) bool { return o.job == id })
}

func (m *pipeModel) take(i int) outstanding {
	o := m.pending[i]
	m.pending = slices.Delete(m.pending, i, i+1)
	return o
}

// run checks and records the effects of one event, in order.
func (m *pipeModel) run(t *rapid.T, effs []Effect) {
	for _, e := range effs {
		switch e := e.(type) {
		case Lookup:
			m.out(t, "lookup", e.Job)
		case Prove:
			if m.store[e.Job] {
				t.Fatalf("Prove of %s, already stored", e.Job)
			}
			if !m.onCanon(e.Job) || !m.inputsPublished(e.Job) {
				t.Fatalf("Prove of %s: on the canonical chain %v, inputs published %v", e.Job, m.onCanon(e.Job), m.inputsPublished(e.Job))
			}
			m.out(t, "prove", e.Job)
			if n := m.count("prove"); n > m.cfg.MaxProving {
				t.Fatalf("%d proofs out, MaxProving %d", n, m.cfg.MaxProving)
			}
		case Store:
			m.out(t, "store", e.Job)
		case Publish:
			if !m.onCanon(e.Job) {
				t.Fatalf("Publish of %s, not on the canonical chain", e.Job)
			}
			if !m.inputsPublished(e.Job) {
				t.Fatalf("Publish of %s before its inputs", e.Job)
			}
			if !m.store[e.Job] || m.published[e.Job] {
				t.Fatalf("Publish of %s: stored %v, published already %v", e.Job, m.store[e.Job], m.published[e.Job])
			}
			m.published[e.Job] = true
		case Prune:
			m.pruned(t, e.Through)
		case Failed:
			if !m.onCanon(e.Job) {
				t.Fatalf("Failed for %s, not on the canonical chain", e.Job)
			}
			m.failed[e.Job] = true
		}
	}
}

func (m *pipeModel) out(t *rapid.T, kind string, id JobID) {
	if i := m.outstandingFor(id); i >= 0 {
		t.Fatalf("%s of %s while a %s of it is out", kind, id, m.pending[i].kind)
	}
	m.pending = append(m.pending, outstanding{kind, id})
	m.seen = append(m.seen, id)
}

func (m *pipeModel) count(kind string) int {
	n := 0
	for _, o := range m.pending {
		if o.kind == kind {
			n++
		}
	}
	return n
}

func (m *pipeModel) pruned(t *rapid.T, through uint64) {
	if through > m.finalized || through <= m.base.Height || through%m.cfg.BundleSize != 0 {
		t.Fatalf("Prune through %d: finalized %d, base %d, bundle size %d", through, m.finalized, m.base.Height, m.cfg.BundleSize)
	}
	for end := m.base.Height + m.cfg.BundleSize; end <= through; end += m.cfg.BundleSize {
		if !m.published[JobID{StageAggregate, end, m.at(end).Hash, 0}] {
			t.Fatalf("Prune through %d before the aggregate ending at %d is published", through, end)
		}
	}
	for _, o := range m.pending {
		if o.job.Height <= through {
			t.Fatalf("Prune through %d with a %s of %s out", through, o.kind, o.job)
		}
	}
	b := m.at(through)
	m.canon = m.canon[through-m.base.Height:]
	m.base = Checkpoint{b.Height, b.Hash}
	for _, set := range []map[JobID]bool{m.store, m.published, m.failed} {
		for id := range set {
			if id.Height <= through {
				delete(set, id)
			}
		}
	}
}

// branch is what the canonical chain becomes if b is added, and its fork
// point; ok is false if b does not descend from the base.
func (m *pipeModel) branch(b Block) (chain []Block, fork uint64, ok bool) {
	var path []Block
	for {
		path = append(path, b)
		if b.Parent == m.base.Hash {
			fork = m.base.Height
			break
		}
		p, known := m.byHash[b.Parent]
		if !known || !m.held[p.Hash] || p.Height <= m.base.Height {
			return nil, 0, false
		}
		if m.onCanon(JobID{Height: p.Height, Block: p.Hash}) {
			fork = p.Height
			break
		}
		b = p
	}
	slices.Reverse(path)
	return append(slices.Clone(m.canon[:fork-m.base.Height]), path...), fork, true
}

func (m *pipeModel) add(t *rapid.T, b Block) {
	chain, fork, ok := m.branch(b)
	effs, err := m.core.AddBlock(b)
	if !ok || fork < m.finalized {
		if err == nil {
			t.Fatalf("block %s accepted: descends from the base %v, fork point %d, finalized %d", b.Hash, ok, fork, m.finalized)
		}
		if !errors.Is(err, ErrUnknownParent) && !errors.Is(err, ErrFinalized) {
			t.Fatalf("block %s: unexpected error %v", b.Hash, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("block %s: %v", b.Hash, err)
	}
	m.canon = chain
	for _, b := range chain {
		m.held[b.Hash] = true
	}
	for _, set := range []map[JobID]bool{m.published, m.failed} {
		for id := range set {
			if !m.onCanon(id) {
				delete(set, id)
			}
		}
	}
	m.run(t, effs)
}

// complete carries out the outstanding effect i: a lookup answered by the
// store, a proof (failing if fail), a write made durable.
func (m *pipeModel) complete(t *rapid.T, i int, fail bool) {
	o := m.take(i)
	switch o.kind {
	case "lookup":
		m.run(t, m.core.LookupDone(o.job, m.store[o.job]))
	case "prove":
		var err error
		if fail {
			err = fmt.Errorf("engine died")
		} else if m.proven[o.job]++; m.proven[o.job] > 1 {
			t.Fatalf("%s proven %d times", o.job, m.proven[o.job])
		}
		m.run(t, m.core.ProveDone(o.job, err))
	case "store":
		m.store[o.job] = true
		m.run(t, m.core.Stored(o.job))
	}
}

// drain carries out everything, all succeeding, then checks that the
// canonical chain is proven as far as failures allow.
func (m *pipeModel) drain(t *rapid.T) {
	for len(m.pending) > 0 {
		m.complete(t, 0, false)
	}
	failedAt := func(lo, hi uint64) bool {
		for id := range m.failed {
			if id.Height >= lo && id.Height <= hi {
				return true
			}
		}
		return false
	}
	for _, b := range m.canon {
		if !m.published[JobID{StageBatch, b.Height, b.Hash, 0}] && !failedAt(b.Height, b.Height) {
			t.Fatalf("quiescent, but the batch of canonical block %s at %d is not published", b.Hash, b.Height)
		}
		if b.Height%m.cfg.BundleSize == 0 && !m.published[JobID{StageAggregate, b.Height, b.Hash, 0}] && !failedAt(b.Height-m.cfg.BundleSize+1, b.Height) {
			t.Fatalf("quiescent, but the aggregate ending at %d is not published", b.Height)
		}
	}
}

// restart drops the core and what it had out (each write out may or may not
// have landed), and builds a new one from the last pruned checkpoint and the
// accepted chain, as the shell does after a crash.
func (m *pipeModel) restart(t *rapid.T) {
	for _, o := range m.pending {
		if o.kind == "store" {
			if rapid.Bool().Draw(t, "write landed") {
				m.store[o.job] = true
			} else {
				m.proven[o.job]-- // the proof was lost: proving it again is not a duplicate
			}
		}
	}
	m.pending = nil
	m.held = map[Hash]bool{}
	for _, b := range m.canon {
		m.held[b.Hash] = true
	}
	m.published, m.failed = map[JobID]bool{}, map[JobID]bool{}
	cfg := m.cfg
	cfg.Base = m.base
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m.core = c
	for _, b := range m.canon {
		effs, err := c.AddBlock(b)
		if err != nil {
			t.Fatalf("replaying block %s: %v", b.Hash, err)
		}
		m.run(t, effs)
	}
	effs, err := c.Finalize(m.finalized)
	if err != nil {
		t.Fatal(err)
	}
	m.run(t, effs)
}

func (m *pipeModel) sideBlock(t *rapid.T) Block {
	var side []Block
	for _, b := range m.made {
		if b.Height > m.base.Height && !m.onCanon(JobID{Height: b.Height, Block: b.Hash}) {
			side = append(side, b)
		}
	}
	if len(side) == 0 {
		t.Skip("no side fork")
	}
	return rapid.SampledFrom(side).Draw(t, "side block")
}

func (m *pipeModel) check(t *rapid.T) {
	if got, want := m.core.Tip(), m.tip(); got != want {
		t.Fatalf("core's tip %+v, model's %+v", got, want)
	}
	if m.core.base != m.base {
		t.Fatalf("core's base %+v, model's %+v", m.core.base, m.base)
	}
	if m.core.proving != m.count("prove") {
		t.Fatalf("core counts %d proofs out, %d are", m.core.proving, m.count("prove"))
	}
	for id := range m.published {
		if st, ok := m.core.Status(id.Block); !ok || !st.Canonical {
			t.Fatalf("%s published, its block not canonical in the core", id)
		}
	}
}

func TestCoreStateMachine(t *testing.T) { rapid.Check(t, pipeMachine) }

func pipeMachine(t *rapid.T) {
	cfg := Config{
		BundleSize: uint64(rapid.IntRange(1, 3).Draw(t, "bundle")),
		MaxProving: rapid.IntRange(1, 3).Draw(t, "maxProving"),
		Retries:    rapid.SampledFrom([]int{NoRetries, 1, 3}).Draw(t, "retries"),
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m := &pipeModel{
		core: c, cfg: *cfg.EnsureDefaults(), byHash: map[Hash]Block{}, held: map[Hash]bool{},
		store: map[JobID]bool{}, proven: map[JobID]int{}, published: map[JobID]bool{}, failed: map[JobID]bool{},
	}
	txs := func(t *rapid.T) int { return rapid.IntRange(0, 2).Draw(t, "txs") }
	pick := func(t *rapid.T, kind string) int {
		var is []int
		for i, o := range m.pending {
			if o.kind == kind {
				is = append(is, i)
			}
		}
		if len(is) == 0 {
			t.Skip("no " + kind + " out")
		}
		return rapid.SampledFrom(is).Draw(t, kind)
	}
	t.Repeat(map[string]func(*rapid.T){
		"extend": func(t *rapid.T) {
			if len(m.made) > 30 {
				t.Skip("enough blocks")
			}
			m.add(t, m.newBlock(m.tip(), txs(t)))
		},
		"fork": func(t *rapid.T) {
			if len(m.made) > 30 || m.tip().Height == m.base.Height {
				t.Skip("enough blocks, or none to fork from")
			}
			h := rapid.Uint64Range(m.base.Height, m.tip().Height-1).Draw(t, "fork at")
			parent := m.base
			if h > m.base.Height {
				parent = Checkpoint{h, m.at(h).Hash}
			}
			m.add(t, m.newBlock(parent, txs(t)))
		},
		// flip: the source sends an abandoned branch again from its fork
		// point, oldest first.
		"flip": func(t *rapid.T) {
			b := m.sideBlock(t)
			var branch []Block
			for ; !m.onCanon(JobID{Height: b.Height, Block: b.Hash}) && b.Height > m.base.Height; b = m.byHash[b.Parent] {
				branch = append(branch, b)
			}
			for _, b := range slices.Backward(branch) {
				m.add(t, b)
			}
		},
		// jump: just a block of an abandoned branch; the core brings back
		// the branch it holds.
		"jump":       func(t *rapid.T) { m.add(t, m.sideBlock(t)) },
		"lookupDone": func(t *rapid.T) { m.complete(t, pick(t, "lookup"), false) },
		"proveDone": func(t *rapid.T) {
			m.complete(t, pick(t, "prove"), rapid.Bool().Draw(t, "fail"))
		},
		"stored": func(t *rapid.T) { m.complete(t, pick(t, "store"), false) },
		"stale": func(t *rapid.T) {
			if len(m.seen) == 0 {
				t.Skip("no job yet")
			}
			id := rapid.SampledFrom(m.seen).Draw(t, "job")
			i := m.outstandingFor(id)
			var effs []Effect
			kind := rapid.SampledFrom([]string{"lookup", "prove", "store"}).Draw(t, "kind")
			if i >= 0 && m.pending[i].kind == kind {
				t.Skip("not stale")
			}
			switch kind {
			case "lookup":
				effs = m.core.LookupDone(id, true)
			case "prove":
				effs = m.core.ProveDone(id, nil)
			case "store":
				effs = m.core.Stored(id)
			}
			if effs != nil {
				t.Fatalf("stale %s news of %s: %+v, want ignored", kind, id, effs)
			}
		},
		"finalize": func(t *rapid.T) {
			h := rapid.Uint64Range(m.finalized, m.tip().Height).Draw(t, "finalize")
			effs, err := m.core.Finalize(h)
			if err != nil {
				t.Fatal(err)
			}
			m.finalized = h
			m.run(t, effs)
		},
		"drain": func(t *rapid.T) {
			if rapid.IntRange(0, 4).Draw(t, "rarely") != 0 {
				t.Skip("drain rarely")
			}
			m.drain(t)
		},
		"restart": func(t *rapid.T) {
			if rapid.IntRange(0, 4).Draw(t, "rarely") != 0 {
				t.Skip("restart rarely")
			}
			m.restart(t)
		},
		"": m.check,
	})
	m.drain(t)
}
