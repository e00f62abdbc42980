package vmclient

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/proofd/proofd/artifact"
	"github.com/proofd/proofd/engine"
	"github.com/proofd/proofd/proto/enginev1"
)

// Client makes typed calls to a VM engine over a connection.
type Client struct {
	conn *engine.Conn
	rpc  enginev1.VmClient
}

// New returns a VM client over c.
func New(c *engine.Conn) *Client {
	return &Client{conn: c, rpc: enginev1.NewVmClient(c.Raw())}
}

// LoadRequest loads a prestate into a VM engine.
type LoadRequest struct {
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
// Trace loads it again and asks once more.
var ErrNotLoaded = errors.New("prestate not loaded")

// TraceInfo describes a loaded prestate's run.
type TraceInfo struct {
	PrestateClaim [32]byte
	StartStep     uint64
	EndStep       uint64
	Exited        bool
	ExitCode      uint8
	FinalClaim    [32]byte
	Snapshots     int
	Timings       []engine.Timing
}

// Load loads a prestate; the engine runs it to its end once and keeps
// snapshots warm for the questions that follow.
func (c *Client) Load(ctx context.Context, req LoadRequest) (*TraceInfo, error) {
	preq := &enginev1.VmLoadRequest{
		Prestate: req.Prestate.Digest[:], SnapshotEvery: req.SnapshotEvery, MaxSteps: req.MaxSteps,
		PreimageServerName: req.PreimageServer,
	}
	for k, v := range req.Preimages {
		preq.Preimages = append(preq.Preimages, &enginev1.Preimage{Key: k[:], Value: v})
	}
	var resp *enginev1.VmLoadResponse
	err := c.conn.WithArtifacts(ctx, "vm load", []artifact.Artifact{req.Prestate}, func() (err error) {
		resp, err = c.rpc.Load(ctx, preq)
		return err
	})
	if err != nil {
		return nil, err
	}
	info := &TraceInfo{
		StartStep: resp.GetStartStep(), EndStep: resp.GetEndStep(), Exited: resp.GetExited(),
		ExitCode: uint8(resp.GetExitCode()), Snapshots: int(resp.GetSnapshots()), Timings: engine.Timings(resp.GetTimings()),
	}
	if err := hash32(&info.PrestateClaim, resp.GetPrestateClaim()); err != nil {
		return nil, err
	}
	if err := hash32(&info.FinalClaim, resp.GetFinalClaim()); err != nil {
		return nil, err
	}
	return info, nil
}

// Claim is a claim about one step.
type Claim struct {
	Claim    [32]byte
	Step     uint64 // the step asked for, or the exit step before it
	Exited   bool
	ExitCode uint8
	Timings  []engine.Timing
}

// ClaimAt is the state hash after step steps.
func (c *Client) ClaimAt(ctx context.Context, prestate artifact.Digest, step uint64) (*Claim, error) {
	resp, err := c.rpc.Claim(ctx, &enginev1.VmStepRequest{Prestate: prestate[:], Step: step})
	if err != nil {
		return nil, vmStatus(ctx, "vm claim", err)
	}
	return claimFrom(resp)
}

// Final is the state the program ended in.
func (c *Client) Final(ctx context.Context, prestate artifact.Digest) (*Claim, error) {
	resp, err := c.rpc.Final(ctx, &enginev1.VmFinalRequest{Prestate: prestate[:]})
	if err != nil {
		return nil, vmStatus(ctx, "vm final", err)
	}
	return claimFrom(resp)
}

// Unload drops a loaded prestate from the engine, freeing its warm
// snapshots and stopping its preimage server once questions in flight are
// answered. It reports whether the prestate was loaded and the bytes its
// trace held.
func (c *Client) Unload(ctx context.Context, prestate artifact.Digest) (unloaded bool, freed uint64, err error) {
	resp, err := c.rpc.Unload(ctx, &enginev1.VmUnloadRequest{Prestate: prestate[:]})
	if err != nil {
		return false, 0, engine.FromStatus(ctx, "vm unload", err)
	}
	return resp.GetUnloaded(), resp.GetFreedBytes(), nil
}

// vmStatus is fromStatus for questions about a loaded prestate, where
// FAILED_PRECONDITION can only mean the prestate is not loaded.
func vmStatus(ctx context.Context, op string, err error) error {
	if st, ok := status.FromError(err); ok && st.Code() == codes.FailedPrecondition && ctx.Err() == nil {
		return fmt.Errorf("%s: %w: %s", op, ErrNotLoaded, st.Message())
	}
	return engine.FromStatus(ctx, op, err)
}

func claimFrom(resp *enginev1.VmClaimResponse) (*Claim, error) {
	cl := &Claim{Step: resp.GetStep(), Exited: resp.GetExited(), ExitCode: uint8(resp.GetExitCode()), Timings: engine.Timings(resp.GetTimings())}
	return cl, hash32(&cl.Claim, resp.GetClaim())
}

// StepData proves the step from Step to Step+1.
type StepData struct {
	Step         uint64
	Pre, Post    [32]byte
	StateData    []byte // the pre-state witness
	ProofData    []byte
	OracleKey    []byte // empty when the step reads no preimage
	OracleValue  []byte
	OracleOffset uint64
	Timings      []engine.Timing
}

// StepDataAt returns what a challenger needs to prove step step.
func (c *Client) StepDataAt(ctx context.Context, prestate artifact.Digest, step uint64) (*StepData, error) {
	resp, err := c.rpc.StepData(ctx, &enginev1.VmStepRequest{Prestate: prestate[:], Step: step})
	if err != nil {
		return nil, vmStatus(ctx, "vm step data", err)
	}
	sd := &StepData{
		Step: resp.GetStep(), StateData: resp.GetStateData(), ProofData: resp.GetProofData(),
		OracleKey: resp.GetOracleKey(), OracleValue: resp.GetOracleValue(), OracleOffset: resp.GetOracleOffset(),
		Timings: engine.Timings(resp.GetTimings()),
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

// Trace is a trace provider over a VM engine, shaped like op-challenger's
// TraceProvider: positions are steps from the prestate's start.
type Trace struct {
	client *Client
	req    LoadRequest
	info   *TraceInfo
}

// NewTrace loads req's prestate into the engine and returns its trace.
func NewTrace(ctx context.Context, c *engine.Conn, req LoadRequest) (*Trace, error) {
	client := New(c)
	info, err := client.Load(ctx, req)
	if err != nil {
		return nil, err
	}
	return &Trace{client: client, req: req, info: info}, nil
}

// ask runs a question, loading the prestate again if the engine let it go
// (evicted for room, or unloaded) and asking once more.
func (t *Trace) ask(ctx context.Context, q func() error) error {
	err := q()
	if !errors.Is(err, ErrNotLoaded) {
		return err
	}
	if _, err := t.client.Load(ctx, t.req); err != nil {
		return err
	}
	return q()
}

// Info is what loading the prestate found.
func (t *Trace) Info() *TraceInfo { return t.info }

// AbsolutePreStateCommitment is the claim of the prestate itself.
func (t *Trace) AbsolutePreStateCommitment(context.Context) ([32]byte, error) {
	return t.info.PrestateClaim, nil
}

// Get is the claim at position i (the final state's past the exit).
func (t *Trace) Get(ctx context.Context, i uint64) ([32]byte, error) {
	var cl *Claim
	err := t.ask(ctx, func() (err error) {
		cl, err = t.client.ClaimAt(ctx, t.req.Prestate.Digest, i)
		return err
	})
	if err != nil {
		return [32]byte{}, err
	}
	return cl.Claim, nil
}

// GetStepData returns the pre-state witness and proof for the step from i,
// and the preimage it reads (nil when none).
func (t *Trace) GetStepData(ctx context.Context, i uint64) (prestate, proofData []byte, preimage *PreimageData, err error) {
	var sd *StepData
	err = t.ask(ctx, func() (err error) {
		sd, err = t.client.StepDataAt(ctx, t.req.Prestate.Digest, i)
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
