package pool

import (
	"errors"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/proofd/proofd/artifact"
)

// poolModel drives poolCore like the Factory does, but with the outcomes of
// starts, deaths and releases chosen by rapid, and checks the pool's
// invariants after every step.
type poolModel struct {
	core      *poolCore
	size      int
	starting  bool            // a startAll is in flight
	respawns  map[[2]int]bool // (slot, gen) replacements in flight
	leases    []*request      // granted, not yet released
	waiting   []*request      // not yet done
	digests   []artifact.Digest
	everStart int
	// lastUse is a second, independent account of what each slot's engine
	// holds: the logical time each digest was last used there. The core's
	// resident list must be its resCap most recent digests, newest first.
	lastUse []map[artifact.Digest]int
	clock   int
	resCap  int
	grants  []uint64 // leases granted per slot, for view's calls
}

// use records that slot i's engine used digests, in order.
func (m *poolModel) use(i int, digests []artifact.Digest) {
	for _, d := range digests {
		m.clock++
		m.lastUse[i][d] = m.clock
	}
	m.evict(i)
}

func (m *poolModel) evict(i int) {
	for len(m.lastUse[i]) > m.resCap {
		var oldest artifact.Digest
		t := -1
		for d, u := range m.lastUse[i] {
			if t < 0 || u < t {
				oldest, t = d, u
			}
		}
		delete(m.lastUse[i], oldest)
	}
}

// want is what slot i's engine should be believed to hold, newest first.
func (m *poolModel) want(i int) []artifact.Digest {
	var ds []artifact.Digest
	for d := range m.lastUse[i] {
		ds = append(ds, d)
	}
	slices.SortFunc(ds, func(a, b artifact.Digest) int { return m.lastUse[i][b] - m.lastUse[i][a] })
	return ds
}

func (m *poolModel) granted(r *request) {
	m.leases = append(m.leases, r)
	m.use(r.slot, r.affinity)
	m.grants[r.slot]++
}

func (m *poolModel) run(effs []effect) {
	for _, e := range effs {
		switch e.kind {
		case effectStartAll:
			if m.starting {
				panic("two pool starts at once")
			}
			m.starting = true
			m.everStart++
		case effectRespawn:
			m.respawns[[2]int{e.slot, e.gen}] = true
			m.lastUse[e.slot] = map[artifact.Digest]int{} // a new engine holds nothing
		case effectWake:
			m.woke(e.req)
		}
	}
}

func (m *poolModel) woke(r *request) {
	i := slices.Index(m.waiting, r)
	if i < 0 {
		panic("woke a request that was not waiting")
	}
	m.waiting = slices.Delete(m.waiting, i, i+1)
	if r.err == nil {
		m.granted(r)
	}
}

func (m *poolModel) check(t *rapid.T) {
	c := m.core
	if len(c.queue) != len(m.waiting) {
		t.Fatalf("core queues %d callers, model %d", len(c.queue), len(m.waiting))
	}
	if c.phase == phaseClosed && len(c.queue) > 0 {
		t.Fatal("callers still waiting on a closed pool")
	}
	if c.phase != phaseRunning {
		return
	}
	busy := map[int]bool{}
	for _, l := range m.leases {
		if l.gen != c.slots[l.slot].gen {
			continue // its engine died and was replaced; the caller holds a stale lease
		}
		if busy[l.slot] {
			t.Fatalf("slot %d leased twice", l.slot)
		}
		busy[l.slot] = true
		if c.slots[l.slot].state != slotBusy {
			t.Fatalf("leased slot %d is in state %d", l.slot, c.slots[l.slot].state)
		}
	}
	idle := 0
	for i, s := range c.slots {
		if s.state == slotBusy && !busy[i] {
			t.Fatalf("slot %d busy with no lease", i)
		}
		if s.state == slotIdle {
			idle++
		}
		if s.state == slotRespawning && !m.respawns[[2]int{i, s.gen}] {
			t.Fatalf("slot %d respawning with no replacement in flight", i)
		}
		if len(s.resident) > c.resCap {
			t.Fatalf("slot %d remembers %d digests, cap %d", i, len(s.resident), c.resCap)
		}
		if want := m.want(i); !slices.Equal(s.resident, want) {
			t.Fatalf("slot %d remembers %v, want %v (newest first)", i, s.resident, want)
		}
	}
	if idle > 0 && len(c.queue) > 0 {
		t.Fatalf("%d idle engines while %d callers wait", idle, len(c.queue))
	}
	v := c.view()
	if len(v) != m.size {
		t.Fatalf("view of a running pool of %d lists %d slots", m.size, len(v))
	}
	for i, s := range c.slots {
		want := map[slotState]string{slotIdle: "idle", slotBusy: "busy", slotRespawning: "starting"}[s.state]
		if s.state == slotBusy && s.dead {
			want = "dead"
		}
		if v[i].state != want || v[i].calls != m.grants[i] || !slices.Equal(v[i].resident, s.resident) {
			t.Fatalf("view of slot %d: %+v, want %s, %d calls, resident %v", i, v[i], want, m.grants[i], s.resident)
		}
	}
}

// current reports whether l's engine is still the one in its slot (not
// replaced since, nor the pool closed).
func (m *poolModel) current(l *request) bool {
	c := m.core
	return c.phase == phaseRunning && c.slots[l.slot].gen == l.gen && c.slots[l.slot].state != slotRespawning
}

func TestPoolCoreStateMachine(t *testing.T) { rapid.Check(t, poolMachine) }

// TestPoolCoreRegressionDeadReleaseServesQueue pins, by name, the run rapid
// once shrank (size 1: get, get, start ok, release dead, respawn done): the
// waiting caller must get the replacement engine, and the dead engine's
// lease must not come back.
func TestPoolCoreRegressionDeadReleaseServesQueue(t *testing.T) {
	p := newPoolCore(1, 8)
	r1, effs := p.get(nil)
	if len(effs) != 1 || effs[0].kind != effectStartAll {
		t.Fatalf("first get: effects %+v, want one start", effs)
	}
	r2, _ := p.get(nil)
	p.startDone(nil)
	if !r1.done || r1.err != nil || r2.done {
		t.Fatalf("after start: r1 %+v, r2 %+v; want r1 granted, r2 waiting", r1, r2)
	}
	news, effs := p.release(r1.slot, r1.gen, true)
	if !news || len(effs) != 1 || effs[0].kind != effectRespawn {
		t.Fatalf("dead release: news %v effects %+v, want news and one respawn", news, effs)
	}
	if r2.done {
		t.Fatal("r2 was granted the dead engine's slot before its replacement was up")
	}
	if ok, _ := p.respawnDone(effs[0].slot, effs[0].gen); !ok || !r2.done || r2.gen != effs[0].gen {
		t.Fatalf("respawn done: ok %v, r2 %+v; want r2 granted generation %d", ok, r2, effs[0].gen)
	}
	if news, effs := p.release(r1.slot, r1.gen, false); news || effs != nil {
		t.Fatalf("stale release of the dead engine: news %v effects %+v, want ignored", news, effs)
	}
	if busy, waiting := p.counts(); busy != 1 || waiting != 0 {
		t.Fatalf("counts: busy %d waiting %d, want 1 and 0", busy, waiting)
	}
}

func poolMachine(t *rapid.T) {
	{
		size := rapid.IntRange(1, 4).Draw(t, "size")
		resCap := rapid.IntRange(1, 4).Draw(t, "resCap")
		m := &poolModel{core: newPoolCore(size, resCap), size: size, resCap: resCap, respawns: map[[2]int]bool{}}
		for range size {
			m.lastUse = append(m.lastUse, map[artifact.Digest]int{})
			m.grants = append(m.grants, 0)
		}
		for i := range 6 {
			m.digests = append(m.digests, artifact.Digest{byte(i + 1)})
		}
		someDigests := func(t *rapid.T, label string) []artifact.Digest {
			return rapid.SliceOfN(rapid.SampledFrom(m.digests), 0, 8).Draw(t, label)
		}
		t.Repeat(map[string]func(*rapid.T){
			"get": func(t *rapid.T) {
				r, effs := m.core.get(someDigests(t, "affinity"))
				if r.done {
					if r.err == nil {
						m.granted(r)
					} else if !errors.Is(r.err, ErrClosed) {
						t.Fatalf("get failed with %v", r.err)
					}
				} else {
					m.waiting = append(m.waiting, r)
				}
				m.run(effs)
			},
			"startDone": func(t *rapid.T) {
				if !m.starting {
					t.Skip("no start in flight")
				}
				m.starting = false
				var err error
				if rapid.Bool().Draw(t, "fail") {
					err = errors.New("boom")
				}
				m.run(m.core.startDone(err))
				if err != nil && m.core.phase != phaseClosed && m.core.phase != phaseUnstarted {
					t.Fatal("a failed start is sticky")
				}
			},
			"release": func(t *rapid.T) {
				if len(m.leases) == 0 {
					t.Skip("nothing leased")
				}
				i := rapid.IntRange(0, len(m.leases)-1).Draw(t, "lease")
				l := m.leases[i]
				m.leases = slices.Delete(m.leases, i, i+1)
				_, effs := m.core.release(l.slot, l.gen, rapid.Bool().Draw(t, "dead"))
				m.run(effs)
			},
			"holds": func(t *rapid.T) {
				if len(m.leases) == 0 {
					t.Skip("nothing leased")
				}
				l := m.leases[rapid.IntRange(0, len(m.leases)-1).Draw(t, "lease")]
				ds := someDigests(t, "holds")
				m.core.holds(l.slot, l.gen, ds)
				if m.current(l) {
					m.use(l.slot, ds)
				}
			},
			"resident": func(t *rapid.T) {
				if len(m.leases) == 0 {
					t.Skip("nothing leased")
				}
				l := m.leases[rapid.IntRange(0, len(m.leases)-1).Draw(t, "lease")]
				report := someDigests(t, "report")
				before := slices.Clone(m.core.slots[l.slot].resident)
				m.core.reportResident(l.slot, l.gen, report)
				got := m.core.slots[l.slot].resident
				if !m.current(l) {
					if !slices.Equal(got, before) {
						t.Fatalf("a stale report changed slot %d from %v to %v", l.slot, before, got)
					}
					return
				}
				var want []artifact.Digest
				for _, d := range report {
					if !slices.Contains(want, d) {
						want = append(want, d)
					}
				}
				want = want[:min(len(want), m.resCap)]
				if !slices.Equal(got, want) {
					t.Fatalf("engine reported %v (cap %d); pool remembers %v, want %v", report, m.resCap, got, want)
				}
				m.lastUse[l.slot] = map[artifact.Digest]int{}
				for _, d := range slices.Backward(want) {
					m.use(l.slot, []artifact.Digest{d})
				}
			},
			"died": func(t *rapid.T) {
				if m.core.phase != phaseRunning {
					t.Skip("not running")
				}
				i := rapid.IntRange(0, m.size-1).Draw(t, "slot")
				_, effs := m.core.died(i, m.core.slots[i].gen)
				m.run(effs)
			},
			"respawnDone": func(t *rapid.T) {
				if len(m.respawns) == 0 {
					t.Skip("no replacement in flight")
				}
				var keys [][2]int
				for k := range m.respawns {
					keys = append(keys, k)
				}
				slices.SortFunc(keys, func(a, b [2]int) int { return a[0]*1000 + a[1] - b[0]*1000 - b[1] })
				k := keys[rapid.IntRange(0, len(keys)-1).Draw(t, "which")]
				delete(m.respawns, k)
				_, effs := m.core.respawnDone(k[0], k[1])
				m.run(effs)
			},
			"cancel": func(t *rapid.T) {
				if len(m.waiting) == 0 {
					t.Skip("nobody waiting")
				}
				i := rapid.IntRange(0, len(m.waiting)-1).Draw(t, "waiter")
				r := m.waiting[i]
				if !m.core.cancel(r) {
					t.Fatal("cancel of a waiting request failed")
				}
				m.waiting = slices.Delete(m.waiting, i, i+1)
			},
			"close": func(t *rapid.T) {
				if rapid.IntRange(0, 9).Draw(t, "rarely") != 0 {
					t.Skip("close rarely")
				}
				m.run(m.core.close())
				if r, _ := m.core.get(nil); !errors.Is(r.err, ErrClosed) {
					t.Fatal("get after close did not fail")
				}
			},
			"": m.check,
		})
	}
}

// TestPoolCoreAffinity: an idle engine that holds the job's artifacts wins.
func TestPoolCoreAffinity(t *testing.T) {
	p := newPoolCore(3, 8)
	a, b := artifact.Digest{1}, artifact.Digest{2}
	r, _ := p.get(nil)
	p.startDone(nil)
	if r.slot != 0 {
		t.Fatalf("first grant went to slot %d", r.slot)
	}
	p.release(r.slot, r.gen, false)
	// Teach slot 2 about b, slot 1 about a.
	p.holds(1, 1, []artifact.Digest{a})
	p.holds(2, 1, []artifact.Digest{b})
	c := artifact.Digest{3}
	for _, tc := range []struct {
		aff  []artifact.Digest
		want int
	}{
		{[]artifact.Digest{b}, 2},
		{[]artifact.Digest{a}, 1},
		{nil, 0},                  // slot 0 holds nothing: least loaded
		{[]artifact.Digest{c}, 0}, // nobody holds c: the least loaded takes it
		{[]artifact.Digest{c}, 0}, // and keeps it
	} {
		r, _ := p.get(tc.aff)
		if r.slot != tc.want {
			t.Errorf("affinity %v: got slot %d, want %d", tc.aff, r.slot, tc.want)
		}
		p.release(r.slot, r.gen, false)
	}
}

// TestViewDeadWhileLeased: an engine that dies under its lease shows as
// dead until the lease comes back, then as starting (its replacement).
func TestViewDeadWhileLeased(t *testing.T) {
	p := newPoolCore(1, 4)
	r, _ := p.get(nil)
	p.startDone(nil)
	if !r.done || r.slot != 0 {
		t.Fatalf("request not granted: %+v", r)
	}
	if news, _ := p.died(0, r.gen); !news {
		t.Fatal("death not news")
	}
	if v := p.view(); v[0].state != "dead" || v[0].calls != 1 {
		t.Fatalf("view %+v, want dead with 1 call", v)
	}
	p.release(0, r.gen, false)
	if v := p.view(); v[0].state != "starting" {
		t.Fatalf("view %+v, want starting", v)
	}
}
