package pool

import (
	"slices"

	"github.com/proofd/proofd/artifact"
)

// poolCore is the pool's decision logic as a plain state machine: no
// goroutines, no processes, no clocks. Factory feeds it events under its
// mutex and carries out the effects it returns. Tests drive it directly
// (poolcore_test.go: a rapid state machine, with its shrunk failures
// pinned as named regression tests).
//
// Lifecycle: unstarted → starting (all N engines at once, on the first Get)
// → running, or back to unstarted if any engine failed to start (a failed
// start is not sticky) → closed.
type poolCore struct {
	size   int
	resCap int // most digests remembered per slot
	phase  poolPhase
	slots  []coreSlot
	queue  []*request // callers waiting for an engine, oldest first
	nextID uint64
}

type poolPhase int

const (
	phaseUnstarted poolPhase = iota
	phaseStarting
	phaseRunning
	phaseClosed
)

type slotState int

const (
	slotIdle       slotState = iota
	slotBusy                 // leased to a caller
	slotRespawning           // a replacement engine is starting
)

type coreSlot struct {
	state slotState
	// gen counts engines this slot has held, so news about an engine that
	// was already replaced is recognised as stale.
	gen int
	// dead marks a leased engine that died: its release must not return it.
	dead bool
	// resident is what this slot's engine is believed to hold, most
	// recently used first, at most resCap long. Like the engine's own store
	// it forgets the least recently used, so it does not keep steering
	// callers to an engine for artifacts that engine evicted long ago.
	resident []artifact.Digest
	// calls counts leases granted on this slot, across its engines.
	calls uint64
}

// request is one caller's Get. Exactly one of slot >= 0 or err != nil is set
// once it is done.
type request struct {
	id       uint64
	affinity []artifact.Digest
	slot     int
	gen      int
	err      error
	done     bool
}

// effect is work the shell must do after an event.
type effect struct {
	kind effectKind
	slot int
	gen  int
	req  *request // for effectWake
}

type effectKind int

const (
	effectStartAll effectKind = iota // start N engines, report startDone
	effectRespawn                    // replace slot's engine, report respawnDone
	effectWake                       // req is done: wake its caller
	effectStopAll                    // stop every engine
)

func newPoolCore(size, residentCap int) *poolCore {
	return &poolCore{size: size, resCap: residentCap}
}

// get handles a caller asking for an engine.
func (p *poolCore) get(affinity []artifact.Digest) (*request, []effect) {
	p.nextID++
	r := &request{id: p.nextID, affinity: affinity, slot: -1}
	switch p.phase {
	case phaseClosed:
		r.err, r.done = ErrClosed, true
		return r, nil
	case phaseUnstarted:
		p.phase = phaseStarting
		p.queue = append(p.queue, r)
		return r, []effect{{kind: effectStartAll}}
	case phaseStarting:
		p.queue = append(p.queue, r)
		return r, nil
	}
	if i := p.pickIdle(affinity); i >= 0 {
		p.grant(r, i)
		return r, nil
	}
	p.queue = append(p.queue, r)
	return r, nil
}

// pickIdle returns the idle slot holding most of affinity; among equals,
// the one holding least (so new circuits spread over the pool instead of
// crowding the first engine), then the lowest index. -1 if none is idle.
func (p *poolCore) pickIdle(affinity []artifact.Digest) int {
	best, bestScore, bestLoad := -1, -1, 0
	for i, s := range p.slots {
		if s.state != slotIdle {
			continue
		}
		score := 0
		for _, d := range affinity {
			if slices.Contains(s.resident, d) {
				score++
			}
		}
		if score > bestScore || score == bestScore && len(s.resident) < bestLoad {
			best, bestScore, bestLoad = i, score, len(s.resident)
		}
	}
	return best
}

// grant leases slot i to r. The caller's job will load its affinity onto
// this engine, so those digests become the engine's most recently used.
func (p *poolCore) grant(r *request, i int) {
	p.slots[i].state = slotBusy
	p.slots[i].calls++
	r.slot, r.gen, r.done = i, p.slots[i].gen, true
	p.touch(&p.slots[i], r.affinity)
}

// touch moves digests to the front of s's resident list (the last one
// first) and forgets what falls past the cap.
func (p *poolCore) touch(s *coreSlot, digests []artifact.Digest) {
	for _, d := range digests {
		if k := slices.Index(s.resident, d); k >= 0 {
			s.resident = slices.Delete(s.resident, k, k+1)
		}
		s.resident = slices.Insert(s.resident, 0, d)
	}
	if len(s.resident) > p.resCap {
		s.resident = s.resident[:p.resCap]
	}
}

// engineSlot returns the slot whose current engine is generation gen, or
// nil when that engine is gone (stale news, closed pool, or a replacement
// still starting).
func (p *poolCore) engineSlot(i, gen int) *coreSlot {
	if p.phase != phaseRunning || i < 0 || i >= len(p.slots) || p.slots[i].gen != gen || p.slots[i].state == slotRespawning {
		return nil
	}
	return &p.slots[i]
}

// holds records that engine (i, gen) now holds digests, for example keys a
// Setup just produced there.
func (p *poolCore) holds(i, gen int, digests []artifact.Digest) {
	if s := p.engineSlot(i, gen); s != nil {
		p.touch(s, digests)
	}
}

// reportResident replaces what engine (i, gen) is believed to hold with
// what it reported, most recently used first; duplicates count once and
// only the first resCap are kept.
func (p *poolCore) reportResident(i, gen int, digests []artifact.Digest) {
	s := p.engineSlot(i, gen)
	if s == nil {
		return
	}
	s.resident = s.resident[:0]
	for _, d := range digests {
		if len(s.resident) == p.resCap {
			break
		}
		if !slices.Contains(s.resident, d) {
			s.resident = append(s.resident, d)
		}
	}
}

// serveQueue hands idle engines to waiting callers, oldest first.
func (p *poolCore) serveQueue() []effect {
	var effs []effect
	for len(p.queue) > 0 {
		r := p.queue[0]
		i := p.pickIdle(r.affinity)
		if i < 0 {
			break
		}
		p.queue = p.queue[1:]
		p.grant(r, i)
		effs = append(effs, effect{kind: effectWake, req: r})
	}
	return effs
}

// startDone reports the pool's start: ok, or failed (the shell has already
// stopped the engines that did start).
func (p *poolCore) startDone(err error) []effect {
	if p.phase == phaseClosed {
		return nil
	}
	if err != nil {
		p.phase = phaseUnstarted
		effs := make([]effect, 0, len(p.queue))
		for _, r := range p.queue {
			r.err, r.done = err, true
			effs = append(effs, effect{kind: effectWake, req: r})
		}
		p.queue = nil
		return effs
	}
	p.phase = phaseRunning
	p.slots = make([]coreSlot, p.size)
	for i := range p.slots {
		p.slots[i] = coreSlot{state: slotIdle, gen: 1}
	}
	return p.serveQueue()
}

// release returns a leased engine. dead means the call found it dead. news
// reports a death the pool had not heard of.
func (p *poolCore) release(i, gen int, dead bool) (news bool, effs []effect) {
	if p.phase != phaseRunning || i < 0 || i >= len(p.slots) || p.slots[i].gen != gen || p.slots[i].state != slotBusy {
		return false, nil // stale: closed, or this engine was already replaced
	}
	s := &p.slots[i]
	if dead || s.dead {
		return dead && !s.dead, p.replace(i)
	}
	s.state = slotIdle
	return false, p.serveQueue()
}

// died reports that the engine of slot i, generation gen, is gone. news is
// false when that engine was already written off (stale or replaced).
func (p *poolCore) died(i, gen int) (news bool, effs []effect) {
	if p.phase != phaseRunning || i < 0 || i >= len(p.slots) || p.slots[i].gen != gen {
		return false, nil
	}
	switch s := &p.slots[i]; {
	case s.state == slotIdle:
		return true, p.replace(i)
	case s.state == slotBusy && !s.dead:
		s.dead = true // the caller's release will replace it
		return true, nil
	}
	return false, nil
}

func (p *poolCore) replace(i int) []effect {
	s := &p.slots[i]
	s.gen++
	s.state, s.dead, s.resident = slotRespawning, false, nil
	return []effect{{kind: effectRespawn, slot: i, gen: s.gen}}
}

// respawnDone reports that slot i's replacement engine is up. (The shell
// keeps retrying a failed replacement with backoff; only success is news.)
// It reports false when the replacement is not wanted: closed, or stale.
func (p *poolCore) respawnDone(i, gen int) (bool, []effect) {
	if p.phase != phaseRunning || p.slots[i].gen != gen || p.slots[i].state != slotRespawning {
		return false, nil
	}
	p.slots[i].state = slotIdle
	return true, p.serveQueue()
}

// cancel withdraws a waiting request. It reports false if the request was
// already granted, in which case the caller owns the slot and must release it.
func (p *poolCore) cancel(r *request) bool {
	if r.done {
		return false
	}
	for k, q := range p.queue {
		if q == r {
			p.queue = append(p.queue[:k], p.queue[k+1:]...)
			break
		}
	}
	r.done = true
	return true
}

// close fails every waiting caller and stops every engine.
func (p *poolCore) close() []effect {
	if p.phase == phaseClosed {
		return nil
	}
	p.phase = phaseClosed
	effs := make([]effect, 0, len(p.queue)+1)
	for _, r := range p.queue {
		r.err, r.done = ErrClosed, true
		effs = append(effs, effect{kind: effectWake, req: r})
	}
	p.queue = nil
	return append(effs, effect{kind: effectStopAll})
}

// slotView is what the core knows of one slot, for Factory.Engines.
type slotView struct {
	state    string
	resident []artifact.Digest
	calls    uint64
}

// view describes every slot: while the pool starts, each is "starting";
// once it runs, "idle", "busy", "dead" (leased, and its engine died: it is
// replaced on release) or "starting" (a replacement is starting). An
// unstarted or closed pool has no engines: nil.
func (p *poolCore) view() []slotView {
	switch p.phase {
	case phaseStarting:
		v := make([]slotView, p.size)
		for i := range v {
			v[i].state = "starting"
		}
		return v
	case phaseRunning:
	default:
		return nil
	}
	v := make([]slotView, len(p.slots))
	for i, s := range p.slots {
		v[i] = slotView{resident: slices.Clone(s.resident), calls: s.calls}
		switch {
		case s.state == slotIdle:
			v[i].state = "idle"
		case s.state == slotBusy && s.dead:
			v[i].state = "dead"
		case s.state == slotBusy:
			v[i].state = "busy"
		default:
			v[i].state = "starting"
		}
	}
	return v
}

// counts reports busy engines and waiting callers, for the hooks.
func (p *poolCore) counts() (busy, waiting int) {
	for _, s := range p.slots {
		if s.state == slotBusy {
			busy++
		}
	}
	return busy, len(p.queue)
}
