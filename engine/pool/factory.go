package pool

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/proofd/proofd/artifact"
	"github.com/proofd/proofd/engine"
)

// ErrClosed is returned by Get after Close, and to callers that were
// waiting when Close was called.
var ErrClosed = errors.New("engine factory closed")

// ErrPoisonRequest is what a *PoisonError matches with errors.Is: a request
// that kills every engine it runs on (an untrusted constraint system that
// crashes gnark's solver, say). Retrying it would only kill more engines.
var ErrPoisonRequest = errors.New("request kills engines")

// PoisonError is Do's verdict on a request whose calls killed more engines
// than DeathRetries allows. It is not retryable (engine.IsRetryable is false).
type PoisonError struct {
	// Inputs are the digests the request declared (Do's affinity).
	Inputs []artifact.Digest
	// Deaths is how many engines died under the request.
	Deaths int
	// Last is the failure of the last call.
	Last error
}

func (e *PoisonError) Error() string {
	inputs := "no declared inputs"
	if len(e.Inputs) > 0 {
		hex := make([]string, len(e.Inputs))
		for i, d := range e.Inputs {
			hex[i] = d.String()
		}
		inputs = "inputs " + strings.Join(hex, ", ")
	}
	return fmt.Sprintf("engine pool: request with %s killed %d engines, not retried (last failure: %v): %v", inputs, e.Deaths, e.Last, ErrPoisonRequest)
}

// Unwrap is ErrPoisonRequest alone: the last failure is an engine death,
// retryable by itself, and must not make the verdict look retryable.
func (e *PoisonError) Unwrap() error { return ErrPoisonRequest }

// NoRetries, as Config.Retries or Config.DeathRetries, means no retries at
// all. Zero means the default, so that a Config literal that names only what
// it changes gets sane values.
const NoRetries = -1

// Config configures a Factory. Zero values mean defaults (EnsureDefaults).
type Config struct {
	// Start makes one engine, for example by Spawn. Required.
	Start func(ctx context.Context) (*engine.Conn, error)
	// PoolSize is the number of long-lived engines; 0 means a fresh engine
	// for every Get, stopped on Release.
	PoolSize int
	// Retries bounds Do's retries of failures that are neither bad input
	// nor an engine's death, with jittered exponential backoff between
	// them (default 2; NoRetries for none).
	Retries int
	// DeathRetries bounds Do's retries on another engine after an engine
	// died under a call (default 1; NoRetries for none). They do not spend
	// Retries. A request under which DeathRetries+1 engines died is poison:
	// Do gives up with a *PoisonError.
	DeathRetries int
	// HealthInterval is how often idle pooled engines are health-checked
	// (default 5 s).
	HealthInterval time.Duration
	// HealthTimeout is how long a health check waits for an answer before
	// the engine is written off (default 2 s).
	HealthTimeout time.Duration
	// ResidentCap bounds how many artifacts the pool remembers per engine
	// for affinity (default 32). An engine evicts its least recently used
	// artifacts under its byte budget, so the pool forgets in the same
	// order rather than steer callers to what is long gone.
	ResidentCap int
	// Hooks observe the factory; see Hooks.
	Hooks Hooks
}

// EnsureDefaults fills every zero field that has a default, and returns c.
// It is idempotent: NoRetries stays NoRetries.
func (c *Config) EnsureDefaults() *Config {
	if c.Retries == 0 {
		c.Retries = 2
	}
	if c.DeathRetries == 0 {
		c.DeathRetries = 1
	}
	if c.HealthInterval == 0 {
		c.HealthInterval = 5 * time.Second
	}
	if c.HealthTimeout == 0 {
		c.HealthTimeout = 2 * time.Second
	}
	if c.ResidentCap == 0 {
		c.ResidentCap = 32
	}
	return c
}

// Validate reports every problem with the config at once.
func (c *Config) Validate() error {
	var errs []error
	if c.Start == nil {
		errs = append(errs, errors.New("factory config: Start is nil"))
	}
	if c.PoolSize < 0 {
		errs = append(errs, fmt.Errorf("factory config: PoolSize %d is negative", c.PoolSize))
	}
	for _, r := range []struct {
		name string
		n    int
	}{{"Retries", c.Retries}, {"DeathRetries", c.DeathRetries}} {
		if r.n < NoRetries {
			errs = append(errs, fmt.Errorf("factory config: %s %d is negative (NoRetries means none)", r.name, r.n))
		}
	}
	for _, d := range []struct {
		name string
		d    time.Duration
	}{{"HealthInterval", c.HealthInterval}, {"HealthTimeout", c.HealthTimeout}} {
		if d.d < 0 {
			errs = append(errs, fmt.Errorf("factory config: %s %s is negative", d.name, d.d))
		}
	}
	if c.ResidentCap < 0 {
		errs = append(errs, fmt.Errorf("factory config: ResidentCap %d is negative", c.ResidentCap))
	}
	return errors.Join(errs...)
}

// newBackOff is the wait between retries, of a call or of an engine start:
// exponential from 50 ms to 5 s, each wait jittered by ±50% so that callers
// (or slots) that failed together do not retry in lockstep.
func newBackOff() *backoff.ExponentialBackOff {
	return &backoff.ExponentialBackOff{
		InitialInterval:     50 * time.Millisecond,
		RandomizationFactor: 0.5,
		Multiplier:          2,
		MaxInterval:         5 * time.Second,
	}
}

// Factory hands out engines: a fresh one per Get, or one of a pool of
// long-lived engines. Its decisions live in poolCore; this type runs the
// processes, goroutines and timers around it.
type Factory struct {
	cfg Config

	mu      sync.Mutex
	core    *poolCore      // pool mode
	conns   []*engine.Conn // pool mode: each slot's current engine
	wakeups map[*request]chan struct{}
	fresh   map[*engine.Conn]uint64 // fresh mode: engines out on lease, by lease number
	leases  uint64                  // fresh mode: leases handed out
	closed  bool

	stop chan struct{} // closed by Close: background work ends
	bg   sync.WaitGroup
}

// New validates cfg and returns a factory. A pool starts its engines
// on the first Get, not here.
func New(cfg Config) (*Factory, error) {
	if err := cfg.EnsureDefaults().Validate(); err != nil {
		return nil, err
	}
	f := &Factory{cfg: cfg, wakeups: map[*request]chan struct{}{}, fresh: map[*engine.Conn]uint64{}, stop: make(chan struct{})}
	if cfg.PoolSize > 0 {
		f.core = newPoolCore(cfg.PoolSize, cfg.ResidentCap)
		f.conns = make([]*engine.Conn, cfg.PoolSize)
		cfg.Hooks.poolSize(cfg.PoolSize)
		f.bg.Add(1)
		go f.healthLoop()
	}
	return f, nil
}

// Lease is an engine on loan. Release it when done; releasing twice is
// harmless.
type Lease struct {
	*engine.Conn
	f         *Factory
	slot, gen int
	once      sync.Once
	dead      bool
}

// MarkDead tells the factory the engine misbehaved: it is replaced, not
// reused.
func (l *Lease) MarkDead() { l.dead = true }

// Holds tells the pool that the engine now holds digests besides the
// affinity it was leased with, for example the keys a Setup produced on
// it, so that later calls needing them prefer this engine. The facts are
// about the engine, so they stay true after Release.
func (l *Lease) Holds(digests ...artifact.Digest) {
	if l.f.core == nil {
		return // a fresh engine is stopped on Release: nothing to remember
	}
	l.f.mu.Lock()
	l.f.core.holds(l.slot, l.gen, digests)
	l.f.mu.Unlock()
}

// Resident replaces what the pool believes the engine holds with digests,
// most recently used first, as the engine's store reports them. Beyond
// ResidentCap only the first are kept.
func (l *Lease) Resident(digests []artifact.Digest) {
	if l.f.core == nil {
		return
	}
	l.f.mu.Lock()
	l.f.core.reportResident(l.slot, l.gen, digests)
	l.f.mu.Unlock()
}

// Release returns the engine (pool) or stops it (fresh).
func (l *Lease) Release() { l.once.Do(l.release) }

func (l *Lease) release() {
	f := l.f
	if f.core == nil {
		f.mu.Lock()
		delete(f.fresh, l.Conn)
		f.mu.Unlock()
		if err := l.Conn.Close(); err != nil {
			f.cfg.Hooks.teardown(err)
		}
		return
	}
	f.mu.Lock()
	news, effs := f.core.release(l.slot, l.gen, l.dead)
	f.apply(effs)
	f.observe()
	f.mu.Unlock()
	if news {
		f.cfg.Hooks.died("a call found it dead")
	}
}

// Get returns an engine. affinity names the artifacts the caller's job
// uses; a pool prefers an idle engine that already holds them, and from
// then on counts them as held by the engine it granted.
func (f *Factory) Get(ctx context.Context, affinity ...artifact.Digest) (*Lease, error) {
	if f.core == nil {
		return f.getFresh(ctx)
	}
	f.mu.Lock()
	r, effs := f.core.get(affinity)
	wake := make(chan struct{})
	done := r.done // r is the core's: read it only under f.mu, or after wake
	if !done {
		f.wakeups[r] = wake
	}
	f.apply(effs)
	f.observe()
	f.mu.Unlock()
	if !done {
		select {
		case <-wake:
		case <-ctx.Done():
			f.mu.Lock()
			withdrawn := f.core.cancel(r)
			if withdrawn {
				delete(f.wakeups, r)
				f.observe()
			}
			f.mu.Unlock()
			if withdrawn {
				return nil, fmt.Errorf("waiting for an engine: %w", ctx.Err())
			}
			<-wake // granted meanwhile: give it back
			if r.err == nil {
				f.leaseFor(r).Release()
			}
			return nil, fmt.Errorf("waiting for an engine: %w", ctx.Err())
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	return f.leaseFor(r), nil
}

func (f *Factory) leaseFor(r *request) *Lease {
	f.mu.Lock()
	c := f.conns[r.slot]
	f.mu.Unlock()
	return &Lease{Conn: c, f: f, slot: r.slot, gen: r.gen}
}

func (f *Factory) getFresh(ctx context.Context) (*Lease, error) {
	f.mu.Lock()
	closed := f.closed
	f.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	c, err := f.start(ctx)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil, errors.Join(ErrClosed, c.Close())
	}
	f.leases++
	f.fresh[c] = f.leases
	f.mu.Unlock()
	return &Lease{Conn: c, f: f}, nil
}

// start makes one engine and reports it to the hooks.
func (f *Factory) start(ctx context.Context) (*engine.Conn, error) {
	t := time.Now()
	c, err := f.cfg.Start(ctx)
	f.cfg.Hooks.started(time.Since(t), err)
	return c, err
}

// apply carries out the core's effects. f.mu is held.
func (f *Factory) apply(effs []effect) {
	for _, e := range effs {
		switch e.kind {
		case effectStartAll:
			f.bg.Add(1)
			go f.startAll()
		case effectRespawn:
			if old := f.conns[e.slot]; old != nil {
				f.conns[e.slot] = nil
				f.bg.Add(1)
				go func() { defer f.bg.Done(); old.Kill(); old.Close() }()
			}
			f.bg.Add(1)
			go f.respawn(e.slot, e.gen)
		case effectWake:
			if ch, ok := f.wakeups[e.req]; ok {
				close(ch)
				delete(f.wakeups, e.req)
			}
		case effectStopAll:
			// Close stops the engines itself, outside the lock.
		}
	}
}

func (f *Factory) observe() {
	busy, waiting := f.core.counts()
	f.cfg.Hooks.load(busy, waiting)
}

// lifetime is a context that ends when the factory closes.
func (f *Factory) lifetime() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-f.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// startAll starts the whole pool. If any engine fails, the others are
// stopped and every waiting caller gets the error; the next Get tries again.
func (f *Factory) startAll() {
	defer f.bg.Done()
	ctx, cancel := f.lifetime()
	defer cancel()
	n := f.cfg.PoolSize
	conns, errs := make([]*engine.Conn, n), make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conns[i], errs[i] = f.start(ctx)
		}()
	}
	wg.Wait()
	err := errors.Join(errs...)
	if err != nil {
		var teardown []error
		for _, c := range conns {
			if c != nil {
				teardown = append(teardown, c.Close())
			}
		}
		err = errors.Join(fmt.Errorf("start engine pool: %w", err), errors.Join(teardown...))
	}
	f.mu.Lock()
	if err == nil && f.core.phase == phaseClosed {
		f.mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
		return
	}
	if err == nil {
		copy(f.conns, conns)
		for i, c := range conns {
			f.watch(i, 1, c)
		}
	}
	f.apply(f.core.startDone(err))
	f.observe()
	f.mu.Unlock()
}

// respawn replaces slot's engine, retrying with backoff until it works or
// the factory closes.
func (f *Factory) respawn(slot, gen int) {
	defer f.bg.Done()
	ctx, cancel := f.lifetime()
	defer cancel()
	c, err := backoff.Retry(ctx, func() (*engine.Conn, error) { return f.start(ctx) },
		backoff.WithBackOff(newBackOff()), backoff.WithMaxElapsedTime(0))
	if err != nil {
		return // the factory closed
	}
	f.mu.Lock()
	wanted, effs := f.core.respawnDone(slot, gen)
	if wanted {
		f.conns[slot] = c
		f.watch(slot, gen, c)
		f.apply(effs)
		f.observe()
	}
	f.mu.Unlock()
	if !wanted {
		c.Close()
		return
	}
	f.cfg.Hooks.respawned()
}

// watch reports the engine's death to the core when its process exits.
// f.mu is held.
func (f *Factory) watch(slot, gen int, c *engine.Conn) {
	exited := c.Exited()
	if exited == nil {
		return // in-process: it cannot die on its own
	}
	f.bg.Add(1)
	go func() {
		defer f.bg.Done()
		select {
		case <-exited:
		case <-f.stop:
			return
		}
		f.markDied(slot, gen, "process exited")
	}()
}

// markDied tells the core an engine is gone, and the hooks if that is news.
func (f *Factory) markDied(slot, gen int, reason string) {
	f.mu.Lock()
	news, effs := f.core.died(slot, gen)
	f.apply(effs)
	f.observe()
	f.mu.Unlock()
	if news {
		f.cfg.Hooks.died(reason)
	}
}

// healthLoop checks idle engines; one that does not answer is replaced.
func (f *Factory) healthLoop() {
	defer f.bg.Done()
	t := time.NewTicker(f.cfg.HealthInterval)
	defer t.Stop()
	for {
		select {
		case <-f.stop:
			return
		case <-t.C:
		}
		type target struct {
			slot, gen int
			c         *engine.Conn
		}
		var idle []target
		f.mu.Lock()
		if f.core.phase == phaseRunning {
			for i, s := range f.core.slots {
				if s.state == slotIdle && f.conns[i] != nil {
					idle = append(idle, target{i, s.gen, f.conns[i]})
				}
			}
		}
		f.mu.Unlock()
		for _, tg := range idle {
			ctx, cancel := context.WithTimeout(context.Background(), f.cfg.HealthTimeout)
			h, err := tg.c.HealthResident(ctx)
			cancel()
			if err != nil {
				f.markDied(tg.slot, tg.gen, "health check: "+err.Error())
				continue
			}
			// The engine says what it holds after its own evictions; the
			// affinity table believes that over what callers declared.
			if resident, ok := residentDigests(h.GetResidentDigests()); ok {
				f.mu.Lock()
				if f.core.slots[tg.slot].state == slotIdle { // a lease since knows better
					f.core.reportResident(tg.slot, tg.gen, resident)
				}
				f.mu.Unlock()
			}
		}
	}
}

// residentDigests parses the digests a Health answer lists; ok is false
// when any is malformed, and then the pool keeps what it believed.
func residentDigests(raw [][]byte) ([]artifact.Digest, bool) {
	out := make([]artifact.Digest, len(raw))
	for i, r := range raw {
		d, err := artifact.Parse("resident digest", r)
		if err != nil {
			return nil, false
		}
		out[i] = d
	}
	return out, true
}

// Pids lists the process ids of the pool's current engines (0 for a slot
// whose engine is being replaced), for operators and tests.
func (f *Factory) Pids() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	pids := make([]int, len(f.conns))
	for i, c := range f.conns {
		if c != nil {
			pids[i] = c.Pid()
		}
	}
	return pids
}

// EngineInfo is one engine slot as Engines reports it.
type EngineInfo struct {
	// Slot is the slot's index in the pool (fresh mode: the lease's
	// position among those in flight, oldest first).
	Slot int
	// State is "starting", "idle", "busy" or "dead" (leased, and the
	// engine died under the lease: it is replaced on release).
	State string
	// Address is the engine's address as engine.Conn.Addr gives it: a
	// socket path, HOST:PORT, or "inprocess"; empty while no engine is up.
	Address string
	// Resident is what the pool believes the engine holds (its affinity
	// table), most recently used first; nil in fresh mode.
	Resident []artifact.Digest
	// Calls counts leases granted on the slot since the factory was made,
	// across the engines that held it (fresh mode: 1, the lease itself).
	Calls uint64
}

// Engines is a snapshot of the factory's engines, for status pages. A pool
// lists every slot, in order, once its start has begun; before the first
// Get and after Close it returns nil. In fresh mode (PoolSize 0) there are
// no slots: it lists the engines out on lease, oldest first, each "busy",
// or nil when none is. Safe for concurrent use; the result is the
// caller's.
func (f *Factory) Engines() []EngineInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.core == nil {
		if len(f.fresh) == 0 {
			return nil
		}
		type out struct {
			c   *engine.Conn
			seq uint64
		}
		outs := make([]out, 0, len(f.fresh))
		for c, seq := range f.fresh {
			outs = append(outs, out{c, seq})
		}
		slices.SortFunc(outs, func(a, b out) int { return cmp.Compare(a.seq, b.seq) })
		infos := make([]EngineInfo, len(outs))
		for i, o := range outs {
			infos[i] = EngineInfo{Slot: i, State: "busy", Address: o.c.Addr(), Calls: 1}
		}
		return infos
	}
	view := f.core.view()
	if view == nil {
		return nil
	}
	infos := make([]EngineInfo, len(view))
	for i, v := range view {
		infos[i] = EngineInfo{Slot: i, State: v.state, Resident: v.resident, Calls: v.calls}
		if v.state != "starting" && f.conns[i] != nil {
			infos[i].Address = f.conns[i].Addr()
		}
	}
	return infos
}

// Close stops every engine, fails waiting callers with ErrClosed,
// and returns every teardown failure joined.
func (f *Factory) Close(ctx context.Context) error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil
	}
	f.closed = true
	close(f.stop)
	var conns []*engine.Conn
	if f.core != nil {
		f.apply(f.core.close())
		for i, c := range f.conns {
			if c != nil {
				conns = append(conns, c)
				f.conns[i] = nil
			}
		}
	}
	for c := range f.fresh {
		conns = append(conns, c)
	}
	f.mu.Unlock()

	errs := make([]error, len(conns))
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = c.Close() }()
	}
	wg.Wait()
	done := make(chan struct{})
	go func() { f.bg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("close engine factory: background work still running: %w", ctx.Err()))
	}
	return errors.Join(errs...)
}

// Do runs fn on an engine; it is DoLease for callers that need only the
// connection.
func (f *Factory) Do(ctx context.Context, affinity []artifact.Digest, fn func(*engine.Conn) error) error {
	return f.DoLease(ctx, affinity, func(l *Lease) error { return fn(l.Conn) })
}

// DoLease runs fn on an engine leased with affinity, the digests of the
// request's inputs. fn gets the lease so it can tell the pool what the
// engine now holds (Holds, Resident).
//
// A call that fails because its engine died is retried on another engine
// at once (the dead one is replaced in the background), up to DeathRetries
// times without spending Retries; one more death and the request is
// poison: Do returns a *PoisonError naming affinity and reports it to
// Hooks.Poison. Bad input, a missing binary and a closed factory are never
// retried; other failures, a failed engine start among them, are retried
// up to Retries times with jittered backoff.
func (f *Factory) DoLease(ctx context.Context, affinity []artifact.Digest, fn func(*Lease) error) error {
	var failures, deaths int
	wait := newBackOff()
	for {
		start := time.Now()
		l, err := f.Get(ctx, affinity...)
		ran := err == nil
		if ran {
			err = fn(l)
			if engine.IsRetryable(err) {
				l.MarkDead()
			}
			l.Release()
		}
		f.cfg.Hooks.call(time.Since(start), err)
		var ie *engine.InputError
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil, errors.Is(err, ErrClosed), errors.Is(err, engine.ErrEngineNotFound), errors.As(err, &ie):
			return err
		case ran && engine.IsRetryable(err):
			if deaths++; deaths > max(f.cfg.DeathRetries, 0) {
				f.cfg.Hooks.poison(affinity)
				return &PoisonError{Inputs: slices.Clone(affinity), Deaths: deaths, Last: err}
			}
			continue
		}
		if failures++; failures > max(f.cfg.Retries, 0) {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(wait.NextBackOff()):
		}
	}
}
