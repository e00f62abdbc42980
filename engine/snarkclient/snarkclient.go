package snarkclient

import (
	"context"
	"fmt"

	"github.com/proofd/proofd/artifact"
	"github.com/proofd/proofd/debugrec"
	"github.com/proofd/proofd/engine"
	"github.com/proofd/proofd/proto/enginev1"
)

// Client makes typed calls to a SNARK engine over a connection.
type Client struct {
	conn *engine.Conn
	rpc  enginev1.SnarkClient
}

// New returns a SNARK client over c. It is cheap: make one per call site.
func New(c *engine.Conn) *Client {
	return &Client{conn: c, rpc: enginev1.NewSnarkClient(c.Raw())}
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
	Timings  []engine.Timing   `json:"timings"`
	Warnings []string          `json:"warnings,omitempty"`
}

// Setup runs the scheme's setup. The keys stay resident in the engine.
func (c *Client) Setup(ctx context.Context, req SetupRequest) (*SetupResult, error) {
	scheme, err := schemeToProto(req.Scheme)
	if err != nil {
		return nil, &engine.InputError{Op: "setup", Input: "scheme", Reason: err.Error()}
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
	rc, err := c.conn.Record("setup", engine.NameOr(req.Name, req.CCS), inputs, args)
	if err != nil {
		return nil, err
	}
	var resp *enginev1.SetupResponse
	err = c.conn.WithArtifacts(ctx, "setup", arts, func() (err error) {
		resp, err = c.rpc.Setup(ctx, preq)
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
	return res, rc.Finish(outs, res, err)
}

func (c *Client) setupResult(ctx context.Context, resp *enginev1.SetupResponse) (*SetupResult, error) {
	pkDigest, err := artifact.Parse("setup response pk", resp.GetPk())
	if err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	pk, err := c.conn.Download(ctx, pkDigest)
	if err != nil {
		return nil, err
	}
	vk := artifact.New(resp.GetVkBytes())
	if !engine.DigestEqual(vk.Digest, resp.GetVk()) {
		return nil, fmt.Errorf("setup: engine's vk bytes do not hash to the vk digest it sent")
	}
	return &SetupResult{PK: pk, VK: vk, Timings: engine.Timings(resp.GetTimings()), Warnings: resp.GetWarnings()}, nil
}

// Proof targets: where a proof will be verified (enginev1.ProofTarget). A
// proof made for one target verifies only for that target when its circuit
// has commitments, so Prove and Verify take the same one.
const (
	TargetNative   = ""         // natively (gnark's Verify); also spelled "native"
	TargetSolidity = "solidity" // gnark's exported Solidity verifier (bn254)
	TargetBN254    = "bn254"    // in-circuit, by a BN254 circuit
	TargetBW6761   = "bw6-761"  // in-circuit, by a BW6-761 circuit
)

// TargetToProto maps a target name to the protocol's enum.
func TargetToProto(t string) (enginev1.ProofTarget, error) {
	switch t {
	case TargetNative, "native":
		return enginev1.ProofTarget_PROOF_TARGET_NATIVE, nil
	case TargetSolidity:
		return enginev1.ProofTarget_PROOF_TARGET_SOLIDITY, nil
	case TargetBN254:
		return enginev1.ProofTarget_PROOF_TARGET_IN_BN254, nil
	case TargetBW6761:
		return enginev1.ProofTarget_PROOF_TARGET_IN_BW6_761, nil
	}
	return 0, fmt.Errorf("target %q: want native (or empty), %s, %s or %s", t, TargetSolidity, TargetBN254, TargetBW6761)
}

// targetArgs are a recording's command-line flags for a target.
func targetArgs(t string) []string {
	if t == TargetNative || t == "native" {
		return nil
	}
	return []string{"--target", t}
}

// ProveRequest proves a full witness with a proving key.
type ProveRequest struct {
	Name    string
	CCS     artifact.Artifact
	PK      artifact.Artifact
	Witness []byte
	// Target is where the proof will be verified: TargetNative (the
	// default), TargetSolidity, TargetBN254 or TargetBW6761.
	Target string
}

// ProveResult is the proof and the public witness it proves.
type ProveResult struct {
	Proof   []byte          `json:"-"`
	Public  []byte          `json:"-"`
	Timings []engine.Timing `json:"timings"`
}

// Prove makes a proof.
func (c *Client) Prove(ctx context.Context, req ProveRequest) (*ProveResult, error) {
	target, err := TargetToProto(req.Target)
	if err != nil {
		return nil, &engine.InputError{Op: "prove", Input: "target", Reason: err.Error()}
	}
	rc, err := c.conn.Record("prove", engine.NameOr(req.Name, req.CCS), []debugrec.File{
		{Name: "circuit.ccs", Data: req.CCS.Data}, {Name: "pk.bin", Data: req.PK.Data}, {Name: "witness.wtns", Data: req.Witness},
	}, append([]string{"prove", "--ccs", "circuit.ccs", "--pk", "pk.bin", "--witness", "witness.wtns", "--proof", "replay/proof.bin", "--public", "replay/public.wtns"},
		targetArgs(req.Target)...))
	if err != nil {
		return nil, err
	}
	var resp *enginev1.ProveResponse
	err = c.conn.WithArtifacts(ctx, "prove", []artifact.Artifact{req.CCS, req.PK}, func() (err error) {
		resp, err = c.rpc.Prove(ctx, &enginev1.ProveRequest{Ccs: req.CCS.Digest[:], Pk: req.PK.Digest[:], Witness: req.Witness, Target: target})
		return err
	})
	var res *ProveResult
	var outs []debugrec.File
	if err == nil {
		res = &ProveResult{Proof: resp.GetProof(), Public: resp.GetPublicWitness(), Timings: engine.Timings(resp.GetTimings())}
		outs = []debugrec.File{{Name: "proof.bin", Data: res.Proof}, {Name: "public.wtns", Data: res.Public}}
	}
	return res, rc.Finish(outs, res, err)
}

// VerifyRequest checks a proof against a verifying key and public witness.
type VerifyRequest struct {
	Name   string
	VK     artifact.Artifact
	Proof  []byte
	Public []byte
	// Target is the one the proof was made for (ProveRequest.Target).
	Target string
}

// VerifyResult says whether the proof holds, and if not, why.
type VerifyResult = engine.VerifyResult

// Verify checks a proof. An invalid proof is a result, not an error; an
// error means the inputs could not be read or the engine failed.
func (c *Client) Verify(ctx context.Context, req VerifyRequest) (*VerifyResult, error) {
	target, err := TargetToProto(req.Target)
	if err != nil {
		return nil, &engine.InputError{Op: "verify", Input: "target", Reason: err.Error()}
	}
	rc, err := c.conn.Record("verify", engine.NameOr(req.Name, req.VK), []debugrec.File{
		{Name: "vk.bin", Data: req.VK.Data}, {Name: "proof.bin", Data: req.Proof}, {Name: "public.wtns", Data: req.Public},
	}, append([]string{"verify", "--vk", "vk.bin", "--proof", "proof.bin", "--public", "public.wtns"}, targetArgs(req.Target)...))
	if err != nil {
		return nil, err
	}
	var resp *enginev1.VerifyResponse
	err = c.conn.WithArtifacts(ctx, "verify", []artifact.Artifact{req.VK}, func() (err error) {
		resp, err = c.rpc.Verify(ctx, &enginev1.VerifyRequest{Vk: req.VK.Digest[:], Proof: req.Proof, PublicWitness: req.Public, Target: target})
		return err
	})
	var res *VerifyResult
	if err == nil {
		res = &VerifyResult{Valid: resp.GetValid(), Reason: resp.GetReason(), Timings: engine.Timings(resp.GetTimings())}
	}
	return res, rc.Finish(nil, res, err)
}

// Stats describes a constraint system.
type Stats struct {
	Curve             string          `json:"curve"`
	Scheme            string          `json:"scheme"`
	Constraints       uint64          `json:"constraints"`
	PublicVariables   uint64          `json:"public_variables"`
	SecretVariables   uint64          `json:"secret_variables"`
	InternalVariables uint64          `json:"internal_variables"`
	GnarkVersion      string          `json:"gnark_version"`
	Timings           []engine.Timing `json:"timings,omitempty"`
}

// Stats reads a constraint system's size and kind.
func (c *Client) Stats(ctx context.Context, name string, ccs artifact.Artifact) (*Stats, error) {
	rc, err := c.conn.Record("stats", engine.NameOr(name, ccs), []debugrec.File{{Name: "circuit.ccs", Data: ccs.Data}},
		[]string{"stats", "--ccs", "circuit.ccs", "--json"})
	if err != nil {
		return nil, err
	}
	var resp *enginev1.StatsResponse
	err = c.conn.WithArtifacts(ctx, "stats", []artifact.Artifact{ccs}, func() (err error) {
		resp, err = c.rpc.Stats(ctx, &enginev1.StatsRequest{Ccs: ccs.Digest[:]})
		return err
	})
	var res *Stats
	if err == nil {
		res = &Stats{
			Curve: resp.GetCurve(), Scheme: schemeFromProto(resp.GetScheme()),
			Constraints: resp.GetConstraints(), PublicVariables: resp.GetPublicVariables(),
			SecretVariables: resp.GetSecretVariables(), InternalVariables: resp.GetInternalVariables(),
			GnarkVersion: resp.GetGnarkVersion(), Timings: engine.Timings(resp.GetTimings()),
		}
	}
	return res, rc.Finish(nil, res, err)
}

// CheckResult says whether a witness satisfies a constraint system.
type CheckResult = engine.CheckResult

// Check solves the constraint system with the witness, without proving.
func (c *Client) Check(ctx context.Context, name string, ccs artifact.Artifact, witness []byte) (*CheckResult, error) {
	rc, err := c.conn.Record("check", engine.NameOr(name, ccs), []debugrec.File{{Name: "circuit.ccs", Data: ccs.Data}, {Name: "witness.wtns", Data: witness}},
		[]string{"check", "--ccs", "circuit.ccs", "--witness", "witness.wtns"})
	if err != nil {
		return nil, err
	}
	var resp *enginev1.CheckResponse
	err = c.conn.WithArtifacts(ctx, "check", []artifact.Artifact{ccs}, func() (err error) {
		resp, err = c.rpc.Check(ctx, &enginev1.CheckRequest{Ccs: ccs.Digest[:], Witness: witness})
		return err
	})
	var res *CheckResult
	if err == nil {
		res = &CheckResult{Satisfied: resp.GetSatisfied(), Reason: resp.GetReason(), Timings: engine.Timings(resp.GetTimings())}
	}
	return res, rc.Finish(nil, res, err)
}

// Solidity exports a Solidity verifier for a BN254 verifying key.
func (c *Client) Solidity(ctx context.Context, name string, vk artifact.Artifact) (string, error) {
	rc, err := c.conn.Record("solidity", engine.NameOr(name, vk), []debugrec.File{{Name: "vk.bin", Data: vk.Data}},
		[]string{"solidity", "--vk", "vk.bin", "--out", "replay/verifier.sol"})
	if err != nil {
		return "", err
	}
	var resp *enginev1.SolidityResponse
	err = c.conn.WithArtifacts(ctx, "solidity", []artifact.Artifact{vk}, func() (err error) {
		resp, err = c.rpc.Solidity(ctx, &enginev1.SolidityRequest{Vk: vk.Digest[:]})
		return err
	})
	var outs []debugrec.File
	if err == nil {
		outs = []debugrec.File{{Name: "verifier.sol", Data: []byte(resp.GetSource())}}
	}
	return resp.GetSource(), rc.Finish(outs, nil, err)
}
