package vmengine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ethereum-optimism/optimism/cannon/mipsevm/memory"
	"github.com/ethereum-optimism/optimism/cannon/mipsevm/versions"
	"github.com/ethereum/go-ethereum/common"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/proofd/proofd/artifact"
	"github.com/proofd/proofd/engine/host"
	"github.com/proofd/proofd/proto/enginev1"
	"github.com/proofd/proofd/snapshot"
	"github.com/proofd/proofd/vm"
)

// Defaults for a Load that leaves them zero.
const (
	DefaultSnapshotEvery = 500_000
	DefaultMaxSteps      = 1 << 34
	// MaxSnapshots bounds the warm snapshots of one prestate (each is a
	// copy of guest memory with its page hashes): past it, every other one
	// is dropped and the distance doubles.
	MaxSnapshots = 64
)

// Options configure the VM engine when it starts; nothing in a request
// can change them.
type Options struct {
	// PreimageServers are the preimage servers a Load may name: each a
	// command line speaking Cannon's host protocol on fds 3-6. A request
	// names one of these; it can never make the engine run anything else.
	PreimageServers map[string][]string
	// Hooks observe the engine's runs (vm/vmengine/vmmetrics adapts them).
	Hooks Hooks
}

// Hooks observe the VM runs a Load makes. Every field is optional; each is
// called on the Load's goroutine, so keep them cheap.
type Hooks struct {
	// Ran reports a run that completed: the steps it executed and how long
	// it took. A failed or canceled run is not reported.
	Ran func(steps uint64, d time.Duration)
	// Snapshot reports each snapshot a run takes (a hashed copy of the VM's
	// state kept in memory, the final state included) with its size in
	// bytes, thinned-out ones included.
	Snapshot func(bytes uint64)
}

func (h Hooks) ran(steps uint64, d time.Duration) {
	if h.Ran != nil {
		h.Ran(steps, d)
	}
}

func (h Hooks) snapshot(bytes uint64) {
	if h.Snapshot != nil {
		h.Snapshot(bytes)
	}
}

// Validate reports every problem with the options.
func (o Options) Validate() error {
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(o.PreimageServers)) {
		if name == "" || strings.ContainsAny(name, "= \t\n") {
			errs = append(errs, fmt.Errorf("vm engine: preimage server name %q: want a non-empty name without '=' or spaces", name))
		}
		if len(o.PreimageServers[name]) == 0 || o.PreimageServers[name][0] == "" {
			errs = append(errs, fmt.Errorf("vm engine: preimage server %q: empty command", name))
		}
	}
	return errors.Join(errs...)
}

// Config is the host configuration that serves this engine.
func Config(log *slog.Logger, opts Options) (host.Config, error) {
	if err := opts.Validate(); err != nil {
		return host.Config{}, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	srv := &server{log: log, servers: maps.Clone(opts.PreimageServers), hooks: opts.Hooks,
		traces: map[artifact.Digest]*trace{}, loading: map[artifact.Digest]*loadCall{}}
	return host.Config{
		Kind:          "vm",
		EngineVersion: "proofd vm engine, Cannon multithreaded64-5",
		Services:      []string{enginev1.Vm_ServiceDesc.ServiceName},
		Register: func(s *grpc.Server, store *host.Store) {
			srv.store, srv.budget = store, store.Budget()
			enginev1.RegisterVmServer(s, srv)
		},
		Stopped: srv.close,
		Logger:  log,
	}, nil
}

type server struct {
	enginev1.UnimplementedVmServer
	store   *host.Store
	budget  *host.Budget
	log     *slog.Logger
	servers map[string][]string
	hooks   Hooks

	mu      sync.Mutex
	traces  map[artifact.Digest]*trace
	loading map[artifact.Digest]*loadCall
}

// loadCall is one run of a prestate, shared by every Load that asks for
// it while it runs; it is canceled when all of them have gone.
type loadCall struct {
	done    chan struct{}
	info    *enginev1.VmLoadResponse
	err     error
	waiters int
	cancel  context.CancelFunc
}

// trace is one loaded prestate and what its run found. Its budget entry
// counts the warm snapshots, the final state and room for the cursor;
// a question pins it, so a trace is evicted only between questions.
type trace struct {
	entry *host.Entry
	info  *enginev1.VmLoadResponse // set once the run is done
	hooks Hooks

	mu       sync.Mutex
	oracle   vm.Oracle
	stop     func() error // stops the preimage server, if any
	prestate common.Hash
	start    uint64
	snaps    []*versions.VersionedState // by step, snaps[0] the prestate; never mutated
	held     uint64                     // bytes of snaps
	final    *versions.VersionedState
	exited   bool
	cursor   *vm.Machine // the last question's VM, reused when it is closer
	// cursorFrom is the snapshot the cursor was loaded from; cursorStepped,
	// whether it has executed a step since; cursorProved, whether it has
	// made a proof (which leaves memory proofs behind in Cannon's VM).
	cursorFrom                  int
	cursorStepped, cursorProved bool
}

// release lets go of everything the trace holds: its budget entry is gone.
func (t *trace) release(log *slog.Logger) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.snaps, t.final, t.cursor = nil, nil, nil
	if t.stop != nil {
		if err := t.stop(); err != nil {
			log.Warn("stopping a preimage server", "prestate", fmt.Sprintf("%x", t.prestate), "err", err)
		}
		t.stop = nil
	}
}

func (s *server) close() error {
	s.mu.Lock()
	for _, call := range s.loading {
		call.cancel()
	}
	calls := slices.Collect(maps.Values(s.loading))
	traces := slices.Collect(maps.Values(s.traces))
	s.traces = map[artifact.Digest]*trace{}
	s.mu.Unlock()
	for _, call := range calls {
		<-call.done
	}
	var errs []error
	for _, t := range traces {
		t.mu.Lock()
		if t.stop != nil {
			errs = append(errs, t.stop())
			t.stop = nil
		}
		t.mu.Unlock()
	}
	return errors.Join(errs...)
}

// oracleSource checks what a Load asks to read preimages from, before
// anything runs.
func (s *server) oracleSource(req *enginev1.VmLoadRequest) (argv []string, err error) {
	if len(req.GetPreimageServer()) > 0 { //nolint:staticcheck // refusing the deprecated field is the point
		return nil, host.BadInput("preimage_server", "a request cannot name a command to run; name a preimage server the engine was started with (--preimage-server NAME=CMD) in preimage_server_name")
	}
	name := req.GetPreimageServerName()
	if name == "" {
		return nil, nil
	}
	if len(req.GetPreimages()) > 0 {
		return nil, host.BadInput("preimages", "give preimages or a preimage server, not both")
	}
	argv, ok := s.servers[name]
	if !ok {
		known := slices.Sorted(maps.Keys(s.servers))
		return nil, host.BadInput("preimage_server_name", fmt.Sprintf("no preimage server %q is configured (configured: %q)", name, known))
	}
	return argv, nil
}

func (s *server) Load(ctx context.Context, req *enginev1.VmLoadRequest) (*enginev1.VmLoadResponse, error) {
	d, err := artifact.Parse("prestate", req.GetPrestate())
	if err != nil {
		return nil, host.BadInput("prestate", err.Error())
	}
	argv, err := s.oracleSource(req)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if t, ok := s.traces[d]; ok && t.entry.Pin() {
		s.mu.Unlock()
		t.entry.Unpin()
		return t.info, nil
	}
	call, ok := s.loading[d]
	if !ok {
		runCtx, cancel := context.WithCancel(context.Background())
		call = &loadCall{done: make(chan struct{}), cancel: cancel}
		s.loading[d] = call
		go func() {
			defer close(call.done)
			defer cancel()
			call.info, call.err = s.load(runCtx, d, req, argv)
			s.mu.Lock()
			delete(s.loading, d)
			s.mu.Unlock()
		}()
	}
	call.waiters++
	s.mu.Unlock()
	select {
	case <-call.done:
		return call.info, call.err
	case <-ctx.Done():
		s.mu.Lock()
		if call.waiters--; call.waiters == 0 {
			call.cancel() // nobody wants this run any more
		}
		s.mu.Unlock()
		return nil, status.FromContextError(ctx.Err()).Err()
	}
}

// load decodes and runs a prestate and registers its trace. Only one runs
// per digest at a time (see Load).
func (s *server) load(ctx context.Context, d artifact.Digest, req *enginev1.VmLoadRequest, argv []string) (*enginev1.VmLoadResponse, error) {
	lease := s.store.Lease()
	defer lease.Release()
	data, ok := lease.Bytes(d)
	if !ok {
		return nil, host.Missing(d)
	}
	start := time.Now()
	st, err := decodeState(d, data, s.budget.Max())
	if errors.Is(err, snapshot.ErrMemoryLimit) {
		// Well formed, but larger than this engine may hold: an engine with
		// a larger budget could load it, so it is not bad input.
		return nil, status.Errorf(codes.ResourceExhausted, "prestate %s: %v", d.Short(), err)
	}
	if err != nil {
		return nil, host.BadInput("prestate", err.Error())
	}
	decoded := time.Since(start)

	t := &trace{prestate: vm.Claim(st), start: st.GetStep(), hooks: s.hooks}
	// Room for the running VM and the first snapshot, before either grows.
	t.entry, err = s.budget.Add("prestate "+d.Short(), 2*host.SizeOf(st), func() { s.evicted(d, t) })
	if err != nil {
		return nil, status.Errorf(codes.ResourceExhausted, "prestate %s: %v", d.Short(), err)
	}
	defer t.entry.Unpin()
	if len(argv) > 0 {
		po, err := vm.StartProcessOracle(context.Background(), argv, io.Discard, io.Discard)
		if err != nil {
			t.entry.Drop()
			return nil, status.Errorf(codes.FailedPrecondition, "preimage server %q: %v", req.GetPreimageServerName(), err)
		}
		t.oracle, t.stop = po, po.Close
	} else {
		kv := map[[32]byte][]byte{}
		for i, p := range req.GetPreimages() {
			if len(p.GetKey()) != 32 {
				t.entry.Drop()
				return nil, host.BadInput("preimages", fmt.Sprintf("preimage %d: key is %d bytes, want 32", i, len(p.GetKey())))
			}
			kv[[32]byte(p.GetKey())] = p.GetValue()
		}
		t.oracle = vm.NewKVOracle(kv)
	}
	every, maxSteps := req.GetSnapshotEvery(), req.GetMaxSteps()
	if every == 0 {
		every = DefaultSnapshotEvery
	}
	if maxSteps == 0 {
		maxSteps = DefaultMaxSteps
	}
	runStart := time.Now()
	if err := t.run(ctx, d, st, every, t.start+maxSteps); err != nil {
		t.entry.Drop() // its evict callback stops the preimage server
		return nil, err
	}
	s.hooks.ran(t.final.GetStep()-t.start, time.Since(runStart))
	t.info = &enginev1.VmLoadResponse{
		PrestateClaim: t.prestate[:], StartStep: t.start, EndStep: t.final.GetStep(), Exited: t.exited,
		ExitCode: uint32(t.final.GetExitCode()), FinalClaim: claimBytes(t.final),
		Snapshots: uint32(len(t.snaps)),
	}
	s.mu.Lock()
	s.traces[d] = t
	s.mu.Unlock()
	info := proto.Clone(t.info).(*enginev1.VmLoadResponse)
	info.Timings = []*enginev1.Timing{
		{Stage: "decode", Nanos: decoded.Nanoseconds()},
		{Stage: "run", Nanos: time.Since(runStart).Nanoseconds()},
	}
	return info, nil
}

// evicted forgets a trace the budget let go (evicted for room, unloaded,
// or a failed load) and stops its preimage server.
func (s *server) evicted(d artifact.Digest, t *trace) {
	s.mu.Lock()
	if s.traces[d] == t {
		delete(s.traces, d)
	}
	s.mu.Unlock()
	t.release(s.log)
}

func (s *server) Unload(_ context.Context, req *enginev1.VmUnloadRequest) (*enginev1.VmUnloadResponse, error) {
	d, err := artifact.Parse("prestate", req.GetPrestate())
	if err != nil {
		return nil, host.BadInput("prestate", err.Error())
	}
	s.mu.Lock()
	t, ok := s.traces[d]
	delete(s.traces, d)
	s.mu.Unlock()
	if !ok {
		return &enginev1.VmUnloadResponse{}, nil
	}
	size := t.entry.Size()
	t.entry.Drop()
	return &enginev1.VmUnloadResponse{Unloaded: true, FreedBytes: size}, nil
}

// decodeState reads a proofd snapshot, or a Cannon state (.bin or .bin.gz),
// bounding every count before anything is allocated.
//
// maxMemory is the engine's budget, the ceiling on the memory a decoded
// prestate may take: the reader refuses a state whose page count says it
// would not fit (snapshot.ErrMemoryLimit) before it allocates a page, so a
// small .bin.gz cannot make the engine allocate gigabytes.
func decodeState(d artifact.Digest, data []byte, maxMemory uint64) (*versions.VersionedState, error) {
	st, err := vm.DecodeState("prestate "+d.Short(), data, snapshot.Options{MaxMemoryBytes: int64(min(maxMemory, math.MaxInt64))})
	if err != nil {
		return nil, err
	}
	if st.Version != vm.StateVersion {
		return nil, fmt.Errorf("prestate %s: Cannon state version %d, this engine runs %d (%s)", d.Short(), st.Version, vm.StateVersion, vm.StateVersion)
	}
	return st, nil
}

// run steps from st to its end or stop, keeping a clone every `every`
// steps. Before each clone it reserves, in the trace's budget entry, the
// snapshots kept so far, the running VM and the clone about to be made;
// when that does not fit, it thins the snapshots (as past MaxSnapshots)
// and, with nothing left to thin, gives up with RESOURCE_EXHAUSTED.
func (t *trace) run(ctx context.Context, d artifact.Digest, st *versions.VersionedState, every, stop uint64) error {
	first, err := hashedClone(st)
	if err != nil {
		return err
	}
	t.snaps, t.held = []*versions.VersionedState{first}, host.SizeOf(first)
	t.hooks.snapshot(t.held)
	m := vm.NewMachine(st, t.oracle, nil, io.Discard, io.Discard)
	for !m.Exited() && m.Step() < stop {
		next := min(m.Step()+every, stop)
		if err := m.RunTo(ctx, next); err != nil {
			if ctx.Err() != nil {
				return status.FromContextError(ctx.Err()).Err()
			}
			return status.Errorf(codes.Aborted, "running the prestate to step %d: %v", next, err)
		}
		running := host.SizeOf(m.State())
		for {
			need := t.held + 2*running
			err := t.entry.Resize(need)
			if err == nil {
				break
			}
			if len(t.snaps) < 2 {
				return status.Errorf(codes.ResourceExhausted, "prestate %s: running it needs %d bytes (two copies of its memory and a snapshot): %v", d.Short(), need, err)
			}
			t.thin()
			every *= 2
		}
		snap, err := hashedClone(m.State())
		if err != nil {
			return err
		}
		t.hooks.snapshot(host.SizeOf(snap))
		if m.Exited() || m.Step() >= stop {
			t.final = snap
			break
		}
		t.snaps = append(t.snaps, snap)
		t.held += host.SizeOf(snap)
		if len(t.snaps) > MaxSnapshots {
			// Keep memory bounded on long runs: drop every other snapshot
			// and take them twice as far apart from here on.
			t.thin()
			every *= 2
		}
	}
	if t.final == nil { // the prestate itself had exited
		t.final = first
	}
	t.exited = t.final.GetExited()
	// What stays: the snapshots, the final state and room for one cursor
	// (a copy of a snapshot, stepped by the questions).
	cursor := host.SizeOf(t.final)
	if t.final != first {
		t.held += cursor
	}
	if err := t.entry.Resize(t.held + cursor); err != nil {
		return status.Errorf(codes.ResourceExhausted, "prestate %s: %v", d.Short(), err)
	}
	return nil
}

// thin keeps snapshots 0, 2, 4, …: the grid stays evenly spaced.
func (t *trace) thin() {
	kept := t.snaps[:0]
	t.held = 0
	for k := 0; k < len(t.snaps); k += 2 {
		kept = append(kept, t.snaps[k])
		t.held += host.SizeOf(t.snaps[k])
	}
	clear(t.snaps[len(kept):])
	t.snaps = kept
}

func claimBytes(st *versions.VersionedState) []byte {
	c := vm.Claim(st)
	return c[:]
}

// lock finds the loaded trace of a prestate digest, pins it and locks it;
// the caller calls unlock.
func (s *server) lock(raw []byte) (*trace, error) {
	d, err := artifact.Parse("prestate", raw)
	if err != nil {
		return nil, host.BadInput("prestate", err.Error())
	}
	s.mu.Lock()
	t, ok := s.traces[d]
	ok = ok && t.entry.Pin()
	s.mu.Unlock()
	if !ok {
		return nil, status.Errorf(codes.FailedPrecondition, "prestate %s is not loaded (never loaded, unloaded, or evicted to make room): call Load", d.Short())
	}
	t.mu.Lock()
	return t, nil
}

// unlock ends a question: the trace may be evicted again.
func (t *trace) unlock() {
	t.mu.Unlock()
	t.entry.Unpin()
}

// machineAt returns a VM at step i (i within the run, before its end),
// from the cursor when it is at or before i and no snapshot is closer.
//
// forProof: Cannon's VM keeps the memory proofs it last computed and
// writes them into later steps' proof data when a step needs fewer memory
// proofs than the format has room for; they are not part of the state and
// not serialized. So the bytes of a proof depend on where the run that made
// it started and what it proved on the way. For proofs we start from the
// nearest snapshot strictly before i and step without proving, so that the
// answer is byte for byte what `cannon run --proof-at =i` writes when
// started from that snapshot (the cursor is reused only when it came from
// that same snapshot and has proved nothing yet).
func (t *trace) machineAt(ctx context.Context, i uint64, forProof bool) (*vm.Machine, error) {
	k := sort.Search(len(t.snaps), func(k int) bool { return t.snaps[k].GetStep() > i }) - 1
	if k < 0 {
		return nil, status.Errorf(codes.OutOfRange, "step %d is before the prestate's step %d", i, t.start)
	}
	if forProof && k > 0 && t.snaps[k].GetStep() == i {
		k--
	}
	c := t.cursor
	reuse := c != nil && c.Step() <= i && c.Step() >= t.snaps[k].GetStep()
	if forProof {
		reuse = reuse && t.cursorFrom == k && !t.cursorProved && (c.Step() < i || t.cursorStepped || i == t.start)
	}
	if !reuse {
		t.cursor = nil // its room in the budget is the new one's
		st, err := warmClone(t.snaps[k])
		if err != nil {
			return nil, err
		}
		t.cursor, t.cursorFrom, t.cursorStepped, t.cursorProved = vm.NewMachine(st, t.oracle, nil, io.Discard, io.Discard), k, false, false
	}
	if t.cursor.Step() < i {
		if err := t.cursor.RunTo(ctx, i); err != nil {
			t.cursor = nil
			return nil, status.Errorf(codes.Aborted, "stepping to %d: %v", i, err)
		}
		t.cursorStepped = true
	}
	return t.cursor, nil
}

// pastEnd reports whether step i is at or past the run's end.
func (t *trace) pastEnd(i uint64) (bool, error) {
	end := t.final.GetStep()
	if i < end {
		return false, nil
	}
	if !t.exited && i > end {
		return true, status.Errorf(codes.OutOfRange, "step %d is past the run's bound at step %d (the program had not exited)", i, end)
	}
	return true, nil
}

func (s *server) Claim(ctx context.Context, req *enginev1.VmStepRequest) (*enginev1.VmClaimResponse, error) {
	t, err := s.lock(req.GetPrestate())
	if err != nil {
		return nil, err
	}
	defer t.unlock()
	start := time.Now()
	i := req.GetStep()
	past, err := t.pastEnd(i)
	if err != nil {
		return nil, err
	}
	if past {
		return t.finalClaim(), nil
	}
	m, err := t.machineAt(ctx, i, false)
	if err != nil {
		return nil, err
	}
	c := vm.Claim(m.State())
	return &enginev1.VmClaimResponse{Claim: c[:], Step: i, Timings: []*enginev1.Timing{{Stage: "step", Nanos: time.Since(start).Nanoseconds()}}}, nil
}

func (t *trace) finalClaim() *enginev1.VmClaimResponse {
	return &enginev1.VmClaimResponse{Claim: claimBytes(t.final), Step: t.final.GetStep(), Exited: t.exited, ExitCode: uint32(t.final.GetExitCode())}
}

func (s *server) Final(ctx context.Context, req *enginev1.VmFinalRequest) (*enginev1.VmClaimResponse, error) {
	t, err := s.lock(req.GetPrestate())
	if err != nil {
		return nil, err
	}
	defer t.unlock()
	return t.finalClaim(), nil
}

func (s *server) StepData(ctx context.Context, req *enginev1.VmStepRequest) (*enginev1.VmStepDataResponse, error) {
	t, err := s.lock(req.GetPrestate())
	if err != nil {
		return nil, err
	}
	defer t.unlock()
	start := time.Now()
	i := req.GetStep()
	past, err := t.pastEnd(i)
	if err != nil {
		return nil, err
	}
	var p *vm.Proof
	var reached time.Duration
	if past {
		// The trace past the exit repeats the final state: each step is a
		// no-op with pre = post = the final claim (op-challenger's extension).
		if p, err = vm.ExtensionProof(t.final, i); err != nil {
			return nil, status.Errorf(codes.Internal, "%v", err)
		}
	} else {
		m, err := t.machineAt(ctx, i, true)
		if err != nil {
			return nil, err
		}
		reached = time.Since(start)
		if p, err = m.StepWithProof(); err != nil {
			t.cursor = nil
			return nil, status.Errorf(codes.Aborted, "proving step %d: %v", i, err)
		}
		t.cursorStepped, t.cursorProved = true, true
	}
	return &enginev1.VmStepDataResponse{
		Step: p.Step, Pre: p.Pre[:], Post: p.Post[:], StateData: p.StateData, ProofData: p.ProofData,
		OracleKey: p.OracleKey, OracleValue: p.OracleValue, OracleOffset: uint64(p.OracleOffset),
		Timings: []*enginev1.Timing{
			{Stage: "step", Nanos: reached.Nanoseconds()},
			{Stage: "prove", Nanos: (time.Since(start) - reached).Nanoseconds()},
		},
	}, nil
}

// hashedClone copies a state with freshly computed page hashes: the copy
// is never stepped, so its caches stay right for good. (Hashes are taken
// from a copy, not the running VM, whose caches only its own stepping
// keeps in order.)
func hashedClone(st *versions.VersionedState) (*versions.VersionedState, error) {
	out, err := vm.Clone(st)
	if err != nil {
		return nil, err
	}
	out.GetMemory().MerkleRoot()
	return out, nil
}

// warmClone copies a snapshot together with the Merkle hashes its pages
// have cached. The hashes are Cannon's own for identical bytes, so a VM
// started from the copy proves its first step without re-hashing all of
// memory — most of the cost of a proof from a freshly loaded state.
func warmClone(snap *versions.VersionedState) (*versions.VersionedState, error) {
	out, err := vm.Clone(snap)
	if err != nil {
		return nil, err
	}
	src, dst := snap.GetMemory(), out.GetMemory()
	err = src.ForEachPage(func(idx memory.Word, _ memory.Page) error {
		from, ok1 := src.PageLookup(idx)
		to, ok2 := dst.PageLookup(idx)
		if !ok1 || !ok2 {
			return fmt.Errorf("clone: page %#x missing from the copy", idx)
		}
		to.Cache, to.OkLow, to.OkHigh = from.Cache, from.OkLow, from.OkHigh
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Cannon invalidates the tree above a page only when the page's own
	// root was valid: bring the tree up to date with the copied roots now.
	dst.MerkleRoot()
	return out, nil
}
