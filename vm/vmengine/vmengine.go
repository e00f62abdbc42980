package vmengine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/ethereum-optimism/optimism/cannon/mipsevm/memory"
	"github.com/ethereum-optimism/optimism/cannon/mipsevm/versions"
	"github.com/ethereum/go-ethereum/common"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/proofd/proofd/artifact"
	"github.com/proofd/proofd/engine/host"
	"github.com/proofd/proofd/proto/enginev1"
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

// Config is the host configuration that serves this engine.
func Config(log *slog.Logger) host.Config {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	srv := &server{log: log, traces: map[artifact.Digest]*trace{}}
	return host.Config{
		Kind:          "vm",
		EngineVersion: "proofd vm engine, Cannon multithreaded64-5",
		Services:      []string{enginev1.Vm_ServiceDesc.ServiceName},
		Register: func(s *grpc.Server, store *host.Store) {
			srv.store = store
			enginev1.RegisterVmServer(s, srv)
		},
		Stopped: srv.close,
		Logger:  log,
	}
}

type server struct {
	enginev1.UnimplementedVmServer
	store *host.Store
	log   *slog.Logger

	mu     sync.Mutex
	traces map[artifact.Digest]*trace
}

// trace is one loaded prestate and what its run found.
type trace struct {
	mu       sync.Mutex
	oracle   vm.Oracle
	stop     func() error // stops the preimage server, if any
	prestate common.Hash
	start    uint64
	snaps    []*versions.VersionedState // by step, snaps[0] the prestate; never mutated
	final    *versions.VersionedState
	exited   bool
	cursor   *vm.Machine // the last question's VM, reused when it is closer
	// cursorFrom is the snapshot the cursor was loaded from; cursorStepped,
	// whether it has executed a step since; cursorProved, whether it has
	// made a proof (which leaves memory proofs behind in Cannon's VM).
	cursorFrom                  int
	cursorStepped, cursorProved bool
}

func (s *server) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, t := range s.traces {
		if t.stop != nil {
			errs = append(errs, t.stop())
		}
	}
	s.traces = map[artifact.Digest]*trace{}
	return errors.Join(errs...)
}

func (s *server) Load(ctx context.Context, req *enginev1.VmLoadRequest) (*enginev1.VmLoadResponse, error) {
	d, err := artifact.Parse("prestate", req.GetPrestate())
	if err != nil {
		return nil, host.BadInput("prestate", err.Error())
	}
	lease := s.store.Lease()
	defer lease.Release()
	data, ok := lease.Bytes(d)
	if !ok {
		return nil, host.Missing(d)
	}
	s.mu.Lock()
	t, loaded := s.traces[d]
	s.mu.Unlock()
	if loaded {
		t.mu.Lock()
		defer t.mu.Unlock()
		return t.info(nil), nil
	}
	if len(req.GetPreimages()) > 0 && len(req.GetPreimageServer()) > 0 {
		return nil, host.BadInput("preimages", "give preimages or a preimage server, not both")
	}
	start := time.Now()
	st, err := decodeState(d, data)
	if err != nil {
		return nil, host.BadInput("prestate", err.Error())
	}
	decoded := time.Since(start)

	t = &trace{prestate: vm.Claim(st), start: st.GetStep()}
	if argv := req.GetPreimageServer(); len(argv) > 0 {
		po, err := vm.StartProcessOracle(context.Background(), argv, io.Discard, io.Discard)
		if err != nil {
			return nil, host.BadInput("preimage_server", err.Error())
		}
		t.oracle, t.stop = po, po.Close
	} else {
		kv := map[[32]byte][]byte{}
		for i, p := range req.GetPreimages() {
			if len(p.GetKey()) != 32 {
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
	if err := t.run(ctx, st, every, t.start+maxSteps); err != nil {
		if t.stop != nil {
			err = errors.Join(err, t.stop())
		}
		return nil, err
	}
	s.mu.Lock()
	if other, ok := s.traces[d]; ok { // loaded meanwhile by another caller
		s.mu.Unlock()
		if t.stop != nil {
			t.stop()
		}
		other.mu.Lock()
		defer other.mu.Unlock()
		return other.info(nil), nil
	}
	s.traces[d] = t
	s.mu.Unlock()
	return t.info([]*enginev1.Timing{
		{Stage: "decode", Nanos: decoded.Nanoseconds()},
		{Stage: "run", Nanos: time.Since(runStart).Nanoseconds()},
	}), nil
}

// decodeState reads a proofd snapshot, or a Cannon state (.bin or .bin.gz),
// bounding every count before anything is allocated (vm.DecodeState).
func decodeState(d artifact.Digest, data []byte) (*versions.VersionedState, error) {
	st, err := vm.DecodeState("prestate "+d.Short(), data)
	if err != nil {
		return nil, err
	}
	if st.Version != vm.StateVersion {
		return nil, fmt.Errorf("prestate %s: Cannon state version %d, this engine runs %d (%s)", d.Short(), st.Version, vm.StateVersion, vm.StateVersion)
	}
	return st, nil
}

// run steps from st to its end or stop, keeping a clone every `every` steps.
func (t *trace) run(ctx context.Context, st *versions.VersionedState, every, stop uint64) error {
	first, err := hashedClone(st)
	if err != nil {
		return err
	}
	t.snaps = []*versions.VersionedState{first}
	m := vm.NewMachine(st, t.oracle, nil, io.Discard, io.Discard)
	for !m.Exited() && m.Step() < stop {
		next := min(m.Step()+every, stop)
		if err := m.RunTo(ctx, next); err != nil {
			return status.Errorf(codes.Aborted, "running the prestate to step %d: %v", next, err)
		}
		snap, err := hashedClone(m.State())
		if err != nil {
			return err
		}
		if m.Exited() || m.Step() >= stop {
			t.final = snap
			break
		}
		t.snaps = append(t.snaps, snap)
		if len(t.snaps) > MaxSnapshots {
			// Keep memory bounded on long runs: drop every other snapshot
			// and take them twice as far apart from here on.
			t.snaps = thin(t.snaps)
			every *= 2
		}
	}
	if t.final == nil { // the prestate itself had exited
		t.final = first
	}
	t.exited = t.final.GetExited()
	return nil
}

// thin keeps snapshots 0, 2, 4, …: the grid stays evenly spaced.
func thin(snaps []*versions.VersionedState) []*versions.VersionedState {
	kept := snaps[:0]
	for k := 0; k < len(snaps); k += 2 {
		kept = append(kept, snaps[k])
	}
	clear(snaps[len(kept):])
	return kept
}

func (t *trace) info(timings []*enginev1.Timing) *enginev1.VmLoadResponse {
	return &enginev1.VmLoadResponse{
		PrestateClaim: t.prestate[:], StartStep: t.start, EndStep: t.final.GetStep(), Exited: t.exited,
		ExitCode: uint32(t.final.GetExitCode()), FinalClaim: claimBytes(t.final),
		Snapshots: uint32(len(t.snaps)), Timings: timings,
	}
}

func claimBytes(st *versions.VersionedState) []byte {
	c := vm.Claim(st)
	return c[:]
}

// lock finds the loaded trace of a prestate digest and locks it; the
// caller unlocks t.mu.
func (s *server) lock(raw []byte) (*trace, error) {
	d, err := artifact.Parse("prestate", raw)
	if err != nil {
		return nil, host.BadInput("prestate", err.Error())
	}
	s.mu.Lock()
	t, ok := s.traces[d]
	s.mu.Unlock()
	if !ok {
		return nil, status.Errorf(codes.FailedPrecondition, "prestate %s is not loaded: call Load first", d.Short())
	}
	t.mu.Lock()
	return t, nil
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
	defer t.mu.Unlock()
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
	defer t.mu.Unlock()
	return t.finalClaim(), nil
}

func (s *server) StepData(ctx context.Context, req *enginev1.VmStepRequest) (*enginev1.VmStepDataResponse, error) {
	t, err := s.lock(req.GetPrestate())
	if err != nil {
		return nil, err
	}
	defer t.mu.Unlock()
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
