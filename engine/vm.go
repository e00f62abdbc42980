package engine

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/proofd/proofd/artifact"
	"github.com/proofd/proofd/proto/enginev1"
)

// VMLoadRequest loads a prestate into a VM engine.
type VMLoadRequest struct {
	// Prestate is a proofd snapshot or a Cannon state file.
	Prestate artifact.Artifact
	// SnapshotEvery is the distance between warm snapshots (0: engine default).
	SnapshotEvery uint64
	// MaxSteps bounds the initial run (0: engine default).
	MaxSteps uint64
	// Preimages are served from memory; PreimageServer names a preimage
	// server the engine was started with (`proofd engine serve --kind vm
	// --preimage-server NAME=CMD`). Give one or neither.
	Preimages      map[[32]byte][]byte
	PreimageServer string
}

// ErrNotLoaded means the engine does not hold the prestate a question is
// about: it was never loaded, was unloaded, or was evicted to make room.
// VMTrace loads it again and asks once more.
var ErrNotLoaded = errors.New("prestate not loaded")

// VMTraceInfo describes a loaded prestate's run.
type VMTraceInfo struct {
	PrestateClaim [32]byte
	StartStep     uint64
	EndStep       uint64
	Exited        bool
	ExitCode      uint8
	FinalClaim    [32]byte
	Snapshots     int
	Timings       []Timing
}

// VMLoad loads a prestate; the engine runs it to its end once and keeps
// snapshots warm for the questions that follow.
func (c *Conn) VMLoad(ctx context.Context, req VMLoadRequest) (*VMTraceInfo, error) {
	preq := &enginev1.VmLoadRequest{
		Prestate: req.Prestate.Digest[:], SnapshotEvery: req.SnapshotEvery, MaxSteps: req.MaxSteps,
		PreimageServerName: req.PreimageServer,
	}
	for k, v := range req.Preimages {
		preq.Preimages = append(preq.Preimages, &enginev1.Preimage{Key: k[:], Value: v})
	}
	var resp *enginev1.VmLoadResponse
	err := c.withArtifacts(ctx, "vm load", []artifact.Artifact{req.Prestate}, func() (err error) {
		resp, err = c.vm.Load(ctx, preq)
		return err
	})
	if err != nil {
		return nil, err
	}
	info := &VMTraceInfo{
		StartStep: resp.GetStartStep(), EndStep: resp.GetEndStep(), Exited: resp.GetExited(),
		ExitCode: uint8(resp.GetExitCode()), Snapshots: int(resp.GetSnapshots()), Timings: timingsFrom(resp.GetTimings()),
	}
	if err := hash32(&info.PrestateClaim, resp.GetPrestateClaim()); err != nil {
		return nil, err
	}
	if err := hash32(&info.FinalClaim, resp.GetFinalClaim()); err != nil {
		return nil, err
	}
	return info, nil
}

// VMClaim is a claim about one step.
type VMClaim struct {
	Claim    [32]byte
	Step     uint64 // the step asked for, or the exit step before it
	Exited   bool
	ExitCode uint8
	Timings  []Timing
}

// VMClaimAt is the state hash after step steps.
func (c *Conn) VMClaimAt(ctx context.Context, prestate artifact.Digest, step uint64) (*VMClaim, error) {
	resp, err := c.vm.Claim(ctx, &enginev1.VmStepRequest{Prestate: prestate[:], Step: step})
	if err != nil {
		return nil, vmStatus(ctx, "vm claim", err)
	}
	return claimFrom(resp)
}

// VMFinal is the state the program ended in.
func (c *Conn) VMFinal(ctx context.Context, prestate artifact.Digest) (*VMClaim, error) {
	resp, err := c.vm.Final(ctx, &enginev1.VmFinalRequest{Prestate: prestate[:]})
	if err != nil {
		return nil, vmStatus(ctx, "vm final", err)
	}
	return claimFrom(resp)
}

// VMUnload drops a loaded prestate from the engine, freeing its warm
// snapshots and stopping its preimage server once questions in flight are
// answered. It reports whether the prestate was loaded and the bytes its
// trace held.
func (c *Conn) VMUnload(ctx context.Context, prestate artifact.Digest) (unloaded bool, freed uint64, err error) {
	resp, err := c.vm.Unload(ctx, &enginev1.VmUnloadRequest{Prestate: prestate[:]})
	if err != nil {
		return false, 0, fromStatus(ctx, "vm unload", err)
	}
	return resp.GetUnloaded(), resp.GetFreedBytes(), nil
}

// vmStatus is fromStatus for questions about a loaded prestate, where
// FAILED_PRECONDITION can only mean the prestate is not loaded.
func vmStatus(ctx context.Context, op string, err error) error {
	if st, ok := status.FromError(err); ok && st.Code() == codes.FailedPrecondition && ctx.Err() == nil {
		return fmt.Errorf("%s: %w: %s", op, ErrNotLoaded, st.Message())
	}
	return fromStatus(ctx, op, err)
}

func claimFrom(resp *enginev1.VmClaimResponse) (*VMClaim, error) {
	cl := &VMClaim{Step: resp.GetStep(), Exited: resp.GetExited(), ExitCode: uint8(resp.GetExitCode()), Timings: timingsFrom(resp.GetTimings())}
	return cl, hash32(&cl.Claim, resp.GetClaim())
}

// VMStepData proves the step from Step to Step+1.
type VMStepData struct {
	Step         uint64
	Pre, Post    [32]byte
	StateData    []byte // the pre-state witness
	ProofData    []byte
	OracleKey    []byte // empty when the step reads no preimage
	OracleValue  []byte
	OracleOffset uint64
	Timings      []Timing
}

// VMStepDataAt returns what a challenger needs to prove step step.
func (c *Conn) VMStepDataAt(ctx context.Context, prestate artifact.Digest, step uint64) (*VMStepData, error) {
	resp, err := c.vm.StepData(ctx, &enginev1.VmStepRequest{Prestate: prestate[:], Step: step})
	if err != nil {
		return nil, vmStatus(ctx, "vm step data", err)
	}
	sd := &VMStepData{
		Step: resp.GetStep(), StateData: resp.GetStateData(), ProofData: resp.GetProofData(),
		OracleKey: resp.GetOracleKey(), OracleValue: resp.GetOracleValue(), OracleOffset: resp.GetOracleOffset(),
		Timings: timingsFrom(resp.GetTimings()),
	}
	if err := hash32(&sd.Pre, resp.GetPre()); err != nil {
		return nil, err
	}
	return sd, hash32(&sd.Post, resp.GetPost())
}

func hash32(dst *[32]byte, b []byte) error {
	if len(b) != 32 {
		return fmt.Errorf("engine sent a %d-byte hash, want 32", len(b))
	}
	copy(dst[:], b)
	return nil
}

// PreimageData is the preimage a step reads, as a challenger uploads it to
// the preimage oracle contract.
type PreimageData struct {
	Key    []byte
	Value  []byte
	Offset uint64
}

// VMTrace is a trace provider over a VM engine, shaped like op-challenger's
// TraceProvider: positions are steps from the prestate's start.
type VMTrace struct {
	conn *Conn
	req  VMLoadRequest
	info *VMTraceInfo
}

// NewVMTrace loads req's prestate into the engine and returns its trace.
func NewVMTrace(ctx context.Context, c *Conn, req VMLoadRequest) (*VMTrace, error) {
	info, err := c.VMLoad(ctx, req)
	if err != nil {
		return nil, err
	}
	return &VMTrace{conn: c, req: req, info: info}, nil
}

// ask runs a question, loading the prestate again if the engine let it go
// (evicted for room, or unloaded) and asking once more.
func (t *VMTrace) ask(ctx context.Context, q func() error) error {
	err := q()
	if !errors.Is(err, ErrNotLoaded) {
		return err
	}
	if _, err := t.conn.VMLoad(ctx, t.req); err != nil {
		return err
	}
	return q()
}

// Info is what loading the prestate found.
func (t *VMTrace) Info() *VMTraceInfo { return t.info }

// AbsolutePreStateCommitment is the claim of the prestate itself.
func (t *VMTrace) AbsolutePreStateCommitment(context.Context) ([32]byte, error) {
	return t.info.PrestateClaim, nil
}

// Get is the claim at position i (the final state's past the exit).
func (t *VMTrace) Get(ctx context.Context, i uint64) ([32]byte, error) {
	var cl *VMClaim
	err := t.ask(ctx, func() (err error) {
		cl, err = t.conn.VMClaimAt(ctx, t.req.Prestate.Digest, i)
		return err
	})
	if err != nil {
		return [32]byte{}, err
	}
	return cl.Claim, nil
}

// GetStepData returns the pre-state witness and proof for the step from i,
// and the preimage it reads (nil when none).
func (t *VMTrace) GetStepData(ctx context.Context, i uint64) (prestate, proofData []byte, preimage *PreimageData, err error) {
	var sd *VMStepData
	err = t.ask(ctx, func() (err error) {
		sd, err = t.conn.VMStepDataAt(ctx, t.req.Prestate.Digest, i)
		return err
	})
	if err != nil {
		return nil, nil, nil, err
	}
	if len(sd.OracleKey) > 0 {
		preimage = &PreimageData{Key: sd.OracleKey, Value: sd.OracleValue, Offset: sd.OracleOffset}
	}
	return sd.StateData, sd.ProofData, preimage, nil
}
