package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/proofd/proofd/artifact"
	"github.com/proofd/proofd/debugrec"
	"github.com/proofd/proofd/proto/enginev1"
)

// Timing is how long one stage of an engine call took.
type Timing struct {
	Stage    string        `json:"stage"`
	Duration time.Duration `json:"ns"`
}

func timingsFrom(ts []*enginev1.Timing) []Timing {
	out := make([]Timing, len(ts))
	for i, t := range ts {
		out[i] = Timing{Stage: t.GetStage(), Duration: time.Duration(t.GetNanos())}
	}
	return out
}

// Schemes the SNARK engine proves with.
const (
	Groth16 = "groth16"
	Plonk   = "plonk"
)

func schemeToProto(s string) (enginev1.Scheme, error) {
	switch s {
	case Groth16:
		return enginev1.Scheme_GROTH16, nil
	case Plonk:
		return enginev1.Scheme_PLONK, nil
	}
	return 0, fmt.Errorf("scheme %q: want %s or %s", s, Groth16, Plonk)
}

func schemeFromProto(s enginev1.Scheme) string {
	switch s {
	case enginev1.Scheme_GROTH16:
		return Groth16
	case enginev1.Scheme_PLONK:
		return Plonk
	}
	return "unknown"
}

// SetupRequest makes keys for a constraint system. Name labels the circuit
// in recordings and errors.
type SetupRequest struct {
	Name   string
	CCS    artifact.Artifact
	Scheme string
	// SRS is a KZG SRS for PLONK; DevSRS asks for the insecure development one.
	SRS    *artifact.Artifact
	DevSRS bool
}

// SetupResult holds the new keys.
type SetupResult struct {
	PK       artifact.Artifact `json:"-"`
	VK       artifact.Artifact `json:"-"`
	Timings  []Timing          `json:"timings"`
	Warnings []string          `json:"warnings,omitempty"`
}

// Setup runs the scheme's setup. The keys stay resident in the engine.
func (c *Conn) Setup(ctx context.Context, req SetupRequest) (*SetupResult, error) {
	scheme, err := schemeToProto(req.Scheme)
	if err != nil {
		return nil, &InputError{Op: "setup", Input: "scheme", Reason: err.Error()}
	}
	arts := []artifact.Artifact{req.CCS}
	preq := &enginev1.SetupRequest{Ccs: req.CCS.Digest[:], Scheme: scheme, DevSrs: req.DevSRS}
	inputs := []debugrec.File{{Name: "circuit.ccs", Data: req.CCS.Data}}
	args := []string{"setup", "--ccs", "circuit.ccs", "--scheme", req.Scheme}
	if req.SRS != nil {
		arts = append(arts, *req.SRS)
		preq.Srs = req.SRS.Digest[:]
		inputs = append(inputs, debugrec.File{Name: "srs.bin", Data: req.SRS.Data})
		args = append(args, "--srs", "srs.bin")
	}
	if req.DevSRS {
		args = append(args, "--dev-srs")
	}
	args = append(args, "--pk", "replay/pk.bin", "--vk", "replay/vk.bin")
	rc, err := c.record("setup", nameOr(req.Name, req.CCS), inputs, args)
	if err != nil {
		return nil, err
	}
	var resp *enginev1.SetupResponse
	err = c.withArtifacts(ctx, "setup", arts, func() (err error) {
		resp, err = c.snark.Setup(ctx, preq)
		return err
	})
	var res *SetupResult
	if err == nil {
		res, err = c.setupResult(ctx, resp)
	}
	var outs []debugrec.File
	if res != nil {
		outs = []debugrec.File{{Name: "pk.bin", Data: res.PK.Data}, {Name: "vk.bin", Data: res.VK.Data}}
	}
	return res, rc.finish(outs, res, err)
}

func (c *Conn) setupResult(ctx context.Context, resp *enginev1.SetupResponse) (*SetupResult, error) {
	pkDigest, err := artifact.Parse("setup response pk", resp.GetPk())
	if err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	pk, err := c.Download(ctx, pkDigest)
	if err != nil {
		return nil, err
	}
	vk := artifact.New(resp.GetVkBytes())
	if !digestEqual(vk.Digest, resp.GetVk()) {
		return nil, fmt.Errorf("setup: engine's vk bytes do not hash to the vk digest it sent")
	}
	return &SetupResult{PK: pk, VK: vk, Timings: timingsFrom(resp.GetTimings()), Warnings: resp.GetWarnings()}, nil
}

// ProveRequest proves a full witness with a proving key.
type ProveRequest struct {
	Name    string
	CCS     artifact.Artifact
	PK      artifact.Artifact
	Witness []byte
}

// ProveResult is the proof and the public witness it proves.
type ProveResult struct {
	Proof   []byte   `json:"-"`
	Public  []byte   `json:"-"`
	Timings []Timing `json:"timings"`
}

// Prove makes a proof.
func (c *Conn) Prove(ctx context.Context, req ProveRequest) (*ProveResult, error) {
	rc, err := c.record("prove", nameOr(req.Name, req.CCS), []debugrec.File{
		{Name: "circuit.ccs", Data: req.CCS.Data}, {Name: "pk.bin", Data: req.PK.Data}, {Name: "witness.wtns", Data: req.Witness},
	}, []string{"prove", "--ccs", "circuit.ccs", "--pk", "pk.bin", "--witness", "witness.wtns", "--proof", "replay/proof.bin", "--public", "replay/public.wtns"})
	if err != nil {
		return nil, err
	}
	var resp *enginev1.ProveResponse
	err = c.withArtifacts(ctx, "prove", []artifact.Artifact{req.CCS, req.PK}, func() (err error) {
		resp, err = c.snark.Prove(ctx, &enginev1.ProveRequest{Ccs: req.CCS.Digest[:], Pk: req.PK.Digest[:], Witness: req.Witness})
		return err
	})
	var res *ProveResult
	var outs []debugrec.File
	if err == nil {
		res = &ProveResult{Proof: resp.GetProof(), Public: resp.GetPublicWitness(), Timings: timingsFrom(resp.GetTimings())}
		outs = []debugrec.File{{Name: "proof.bin", Data: res.Proof}, {Name: "public.wtns", Data: res.Public}}
	}
	return res, rc.finish(outs, res, err)
}

// VerifyRequest checks a proof against a verifying key and public witness.
type VerifyRequest struct {
	Name   string
	VK     artifact.Artifact
	Proof  []byte
	Public []byte
}

// VerifyResult says whether the proof holds, and if not, why.
type VerifyResult struct {
	Valid   bool     `json:"valid"`
	Reason  string   `json:"reason,omitempty"`
	Timings []Timing `json:"timings"`
}

// Verify checks a proof. An invalid proof is a result, not an error; an
// error means the inputs could not be read or the engine failed.
func (c *Conn) Verify(ctx context.Context, req VerifyRequest) (*VerifyResult, error) {
	rc, err := c.record("verify", nameOr(req.Name, req.VK), []debugrec.File{
		{Name: "vk.bin", Data: req.VK.Data}, {Name: "proof.bin", Data: req.Proof}, {Name: "public.wtns", Data: req.Public},
	}, []string{"verify", "--vk", "vk.bin", "--proof", "proof.bin", "--public", "public.wtns"})
	if err != nil {
		return nil, err
	}
	var resp *enginev1.VerifyResponse
	err = c.withArtifacts(ctx, "verify", []artifact.Artifact{req.VK}, func() (err error) {
		resp, err = c.snark.Verify(ctx, &enginev1.VerifyRequest{Vk: req.VK.Digest[:], Proof: req.Proof, PublicWitness: req.Public})
		return err
	})
	var res *VerifyResult
	if err == nil {
		res = &VerifyResult{Valid: resp.GetValid(), Reason: resp.GetReason(), Timings: timingsFrom(resp.GetTimings())}
	}
	return res, rc.finish(nil, res, err)
}

// Stats describes a constraint system.
type Stats struct {
	Curve             string   `json:"curve"`
	Scheme            string   `json:"scheme"`
	Constraints       uint64   `json:"constraints"`
	PublicVariables   uint64   `json:"public_variables"`
	SecretVariables   uint64   `json:"secret_variables"`
	InternalVariables uint64   `json:"internal_variables"`
	GnarkVersion      string   `json:"gnark_version"`
	Timings           []Timing `json:"timings,omitempty"`
}

// Stats reads a constraint system's size and kind.
func (c *Conn) Stats(ctx context.Context, name string, ccs artifact.Artifact) (*Stats, error) {
	rc, err := c.record("stats", nameOr(name, ccs), []debugrec.File{{Name: "circuit.ccs", Data: ccs.Data}},
		[]string{"stats", "--ccs", "circuit.ccs", "--json"})
	if err != nil {
		return nil, err
	}
	var resp *enginev1.StatsResponse
	err = c.withArtifacts(ctx, "stats", []artifact.Artifact{ccs}, func() (err error) {
		resp, err = c.snark.Stats(ctx, &enginev1.StatsRequest{Ccs: ccs.Digest[:]})
		return err
	})
	var res *Stats
	if err == nil {
		res = &Stats{
			Curve: resp.GetCurve(), Scheme: schemeFromProto(resp.GetScheme()),
			Constraints: resp.GetConstraints(), PublicVariables: resp.GetPublicVariables(),
			SecretVariables: resp.GetSecretVariables(), InternalVariables: resp.GetInternalVariables(),
			GnarkVersion: resp.GetGnarkVersion(), Timings: timingsFrom(resp.GetTimings()),
		}
	}
	return res, rc.finish(nil, res, err)
}

// CheckResult says whether a witness satisfies a constraint system.
type CheckResult struct {
	Satisfied bool     `json:"satisfied"`
	Reason    string   `json:"reason,omitempty"`
	Timings   []Timing `json:"timings"`
}

// Check solves the constraint system with the witness, without proving.
func (c *Conn) Check(ctx context.Context, name string, ccs artifact.Artifact, witness []byte) (*CheckResult, error) {
	rc, err := c.record("check", nameOr(name, ccs), []debugrec.File{{Name: "circuit.ccs", Data: ccs.Data}, {Name: "witness.wtns", Data: witness}},
		[]string{"check", "--ccs", "circuit.ccs", "--witness", "witness.wtns"})
	if err != nil {
		return nil, err
	}
	var resp *enginev1.CheckResponse
	err = c.withArtifacts(ctx, "check", []artifact.Artifact{ccs}, func() (err error) {
		resp, err = c.snark.Check(ctx, &enginev1.CheckRequest{Ccs: ccs.Digest[:], Witness: witness})
		return err
	})
	var res *CheckResult
	if err == nil {
		res = &CheckResult{Satisfied: resp.GetSatisfied(), Reason: resp.GetReason(), Timings: timingsFrom(resp.GetTimings())}
	}
	return res, rc.finish(nil, res, err)
}

// Solidity exports a Solidity verifier for a BN254 verifying key.
func (c *Conn) Solidity(ctx context.Context, name string, vk artifact.Artifact) (string, error) {
	rc, err := c.record("solidity", nameOr(name, vk), []debugrec.File{{Name: "vk.bin", Data: vk.Data}},
		[]string{"solidity", "--vk", "vk.bin", "--out", "replay/verifier.sol"})
	if err != nil {
		return "", err
	}
	var resp *enginev1.SolidityResponse
	err = c.withArtifacts(ctx, "solidity", []artifact.Artifact{vk}, func() (err error) {
		resp, err = c.snark.Solidity(ctx, &enginev1.SolidityRequest{Vk: vk.Digest[:]})
		return err
	})
	var outs []debugrec.File
	if err == nil {
		outs = []debugrec.File{{Name: "verifier.sol", Data: []byte(resp.GetSource())}}
	}
	return resp.GetSource(), rc.finish(outs, nil, err)
}

// withArtifacts runs call; if the engine reports artifacts missing, it
// uploads those it has bytes for and runs call once more.
func (c *Conn) withArtifacts(ctx context.Context, op string, arts []artifact.Artifact, call func() error) error {
	err := call()
	missing := missingDigests(err)
	if missing == nil {
		return fromStatus(ctx, op, err)
	}
	for _, d := range missing {
		a, ok := findArtifact(arts, d)
		if !ok || a.Data == nil {
			return fmt.Errorf("%s: engine lacks artifact %s and the caller has no bytes for it", op, d.Short())
		}
		if err := c.Upload(ctx, op, a); err != nil {
			return err
		}
	}
	return fromStatus(ctx, op, call())
}

func missingDigests(err error) []artifact.Digest {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.FailedPrecondition {
		return nil
	}
	var out []artifact.Digest
	for _, d := range st.Details() {
		if m, ok := d.(*enginev1.MissingArtifacts); ok {
			for _, raw := range m.GetDigests() {
				if dg, err := artifact.Parse("missing artifact", raw); err == nil {
					out = append(out, dg)
				}
			}
		}
	}
	return out
}

func findArtifact(arts []artifact.Artifact, d artifact.Digest) (artifact.Artifact, bool) {
	for _, a := range arts {
		if a.Digest == d {
			return a, true
		}
	}
	return artifact.Artifact{}, false
}

// uploadChunk is the size of one Upload message.
const uploadChunk = 1 << 20

// Upload sends an artifact's bytes to the engine, which checks the digest.
func (c *Conn) Upload(ctx context.Context, kind string, a artifact.Artifact) error {
	stream, err := c.core.Upload(ctx)
	if err != nil {
		return fromStatus(ctx, "upload "+kind, err)
	}
	err = stream.Send(&enginev1.UploadRequest{Part: &enginev1.UploadRequest_Header{Header: &enginev1.UploadHeader{
		Digest: a.Digest[:], Size: uint64(len(a.Data)), Kind: kind,
	}}})
	for off := 0; err == nil && off < len(a.Data); off += uploadChunk {
		end := min(off+uploadChunk, len(a.Data))
		err = stream.Send(&enginev1.UploadRequest{Part: &enginev1.UploadRequest_Chunk{Chunk: a.Data[off:end]}})
	}
	if errors.Is(err, io.EOF) {
		err = nil // the server ended the stream early; CloseAndRecv has its status
	}
	if err != nil {
		return fromStatus(ctx, "upload "+kind, err)
	}
	_, err = stream.CloseAndRecv()
	return fromStatus(ctx, "upload "+kind, err)
}

// Download fetches a resident artifact and checks its digest.
func (c *Conn) Download(ctx context.Context, d artifact.Digest) (artifact.Artifact, error) {
	stream, err := c.core.Download(ctx, &enginev1.DownloadRequest{Digest: d[:]})
	if err != nil {
		return artifact.Artifact{}, fromStatus(ctx, "download", err)
	}
	var buf []byte
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return artifact.Artifact{}, fromStatus(ctx, "download "+d.Short(), err)
		}
		if buf == nil {
			if msg.GetSize() > 1<<34 {
				return artifact.Artifact{}, fmt.Errorf("download %s: engine announced %d bytes", d.Short(), msg.GetSize())
			}
			buf = make([]byte, 0, msg.GetSize())
		}
		buf = append(buf, msg.GetChunk()...)
	}
	a := artifact.New(buf)
	if a.Digest != d {
		return artifact.Artifact{}, fmt.Errorf("download %s: bytes hash to %s", d.Short(), a.Digest.Short())
	}
	return a, nil
}

func digestEqual(d artifact.Digest, raw []byte) bool {
	return len(raw) == len(d) && string(raw) == string(d[:])
}

func nameOr(name string, a artifact.Artifact) string {
	if name != "" {
		return name
	}
	return a.Digest.Short()
}

// recordedCall is a recorder call, or nothing when recording is off.
type recordedCall struct{ call *debugrec.Call }

func (c *Conn) record(op, name string, inputs []debugrec.File, args []string) (recordedCall, error) {
	if c.rec == nil {
		return recordedCall{}, nil
	}
	present := inputs[:0:0]
	for _, f := range inputs {
		if f.Data != nil {
			present = append(present, f)
		}
	}
	call, err := c.rec.Begin(op, name, present, args)
	return recordedCall{call: call}, err
}

// finish records the outcome and passes err through, adding any recording
// failure to it.
func (r recordedCall) finish(outputs []debugrec.File, result any, err error) error {
	if r.call == nil {
		return err
	}
	return errors.Join(err, r.call.Finish(outputs, result, err))
}
