package noirclient

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/proofd/proofd/artifact"
	"github.com/proofd/proofd/bb/noirfile"
	"github.com/proofd/proofd/debugrec"
	"github.com/proofd/proofd/engine"
	"github.com/proofd/proofd/proto/enginev1"
)

// Client makes typed calls to a bb engine over a connection.
type Client struct {
	conn *engine.Conn
	rpc  enginev1.NoirClient
	// BB is the bb binary a recording's command.sh runs unless $BB says
	// otherwise (empty: `bb` from $PATH). Set it to the engine's bb.
	BB string
}

// New returns a Noir client over c. It is cheap: make one per call site.
func New(c *engine.Conn) *Client {
	return &Client{conn: c, rpc: enginev1.NewNoirClient(c.Raw())}
}

// Oracle hashes: the hash UltraHonk's transcript uses.
const (
	Poseidon2 = "poseidon2" // verified natively or in a circuit (bb's default target)
	Keccak    = "keccak"    // verified on the EVM (bb's -t evm)
)

// OracleToProto maps an oracle hash name ("" is Poseidon2) to the protocol's.
func OracleToProto(h string) (enginev1.OracleHash, error) {
	switch h {
	case "", Poseidon2:
		return enginev1.OracleHash_ORACLE_HASH_POSEIDON2, nil
	case Keccak:
		return enginev1.OracleHash_ORACLE_HASH_KECCAK, nil
	}
	return 0, fmt.Errorf("oracle hash %q: want %s or %s", h, Poseidon2, Keccak)
}

// targetArgs are the bb CLI flags for an oracle hash: -t evm is Keccak
// with ZK, as the engine proves.
func targetArgs(h string) string {
	if h == Keccak {
		return " -t evm"
	}
	return ""
}

func oracle(op, h string) (enginev1.OracleHash, error) {
	o, err := OracleToProto(h)
	if err != nil {
		return 0, &engine.InputError{Op: op, Input: "oracle_hash", Reason: err.Error()}
	}
	return o, nil
}

// record starts recording a call that command.sh replays with the bb CLI;
// lines are its bb commands, after the CRS is written to replay/crs.
func (c *Client) record(op, name string, inputs []debugrec.File, lines ...string) (engine.Recording, error) {
	bb := c.BB
	if bb == "" {
		bb = "bb"
	}
	body := fmt.Sprintf("BB=\"${BB:-%s}\"\n\"$PROOFD\" noir crs --out replay/crs\n%s\n", debugrec.ShellQuote(bb), strings.Join(lines, "\n"))
	return c.conn.RecordScript(op, name, inputs, "the bb CLI (set BB to choose bb, PROOFD the proofd that writes the CRS)", body)
}

// circuitFiles are a recording's input files for a circuit and a witness
// (nil: none), in the form the bb CLI reads.
func circuitFiles(acir, witness []byte) ([]debugrec.File, error) {
	art, err := noirfile.Artifact(acir)
	if err != nil {
		return nil, fmt.Errorf("debug recorder: %w", err)
	}
	files := []debugrec.File{{Name: "circuit.json", Data: art}}
	if witness != nil {
		gz, err := noirfile.Gzip(witness)
		if err != nil {
			return nil, fmt.Errorf("debug recorder: %w", err)
		}
		files = append(files, debugrec.File{Name: "witness.gz", Data: gz})
	}
	return files, nil
}

// ProveRequest proves a witness of a circuit.
type ProveRequest struct {
	// Name labels the circuit in recordings and errors.
	Name string
	// Circuit is the ACIR bytecode, gunzipped (noirfile.Circuit).
	Circuit artifact.Artifact
	// Witness is the witness stack, gunzipped (noirfile.Witness).
	Witness []byte
	// OracleHash is Poseidon2 (the default) or Keccak.
	OracleHash string
	// WithVK also fetches the verifying key's bytes (ProveResult.VK.Data).
	WithVK bool
}

// ProveResult is a proof, the public inputs it proves and the circuit's
// verifying key.
type ProveResult struct {
	Proof  []byte `json:"-"`
	Public []byte `json:"-"`
	// VK is the verifying key; its bytes only with ProveRequest.WithVK.
	VK      artifact.Artifact `json:"-"`
	Timings []engine.Timing   `json:"timings"`
}

// Prove makes a proof.
func (c *Client) Prove(ctx context.Context, req ProveRequest) (*ProveResult, error) {
	o, err := oracle("prove", req.OracleHash)
	if err != nil {
		return nil, err
	}
	var rc engine.Recording
	if c.conn.Recording() {
		inputs, err := circuitFiles(req.Circuit.Data, req.Witness)
		if err != nil {
			return nil, err
		}
		rc, err = c.record("prove", engine.NameOr(req.Name, req.Circuit), inputs,
			`"$BB" prove -b circuit.json -w witness.gz --write_vk -o replay -c replay/crs`+targetArgs(req.OracleHash))
		if err != nil {
			return nil, err
		}
	}
	var resp *enginev1.NoirProveResponse
	err = c.conn.WithArtifacts(ctx, "prove", []artifact.Artifact{req.Circuit}, func() (err error) {
		resp, err = c.rpc.Prove(ctx, &enginev1.NoirProveRequest{Circuit: req.Circuit.Digest[:], Witness: req.Witness, OracleHash: o})
		return err
	})
	var res *ProveResult
	if err == nil {
		res, err = c.proveResult(ctx, resp, req.WithVK)
	}
	var outs []debugrec.File
	if res != nil {
		outs = []debugrec.File{{Name: "proof", Data: res.Proof}, {Name: "public_inputs", Data: res.Public}}
		if res.VK.Data != nil {
			outs = append(outs, debugrec.File{Name: "vk", Data: res.VK.Data})
		}
	}
	return res, rc.Finish(outs, res, err)
}

func (c *Client) proveResult(ctx context.Context, resp *enginev1.NoirProveResponse, withVK bool) (*ProveResult, error) {
	d, err := artifact.Parse("prove response vk", resp.GetVk())
	if err != nil {
		return nil, fmt.Errorf("prove: %w", err)
	}
	res := &ProveResult{Proof: resp.GetProof(), Public: resp.GetPublicInputs(), VK: artifact.Artifact{Digest: d},
		Timings: engine.Timings(resp.GetTimings())}
	if withVK {
		start := time.Now()
		if res.VK, err = c.conn.Download(ctx, d); err != nil {
			return nil, err
		}
		res.Timings = append(res.Timings, engine.Timing{Stage: "download_vk", Duration: time.Since(start)})
	}
	return res, nil
}

// VerifyRequest checks a proof against a verifying key and public inputs.
type VerifyRequest struct {
	Name       string
	VK         artifact.Artifact
	Proof      []byte
	Public     []byte
	OracleHash string // the one the proof was made with
}

// VerifyResult says whether the proof holds, and if not, why.
type VerifyResult = engine.VerifyResult

// Verify checks a proof. An invalid proof is a result, not an error; an
// error means the inputs could not be read or the engine failed.
func (c *Client) Verify(ctx context.Context, req VerifyRequest) (*VerifyResult, error) {
	o, err := oracle("verify", req.OracleHash)
	if err != nil {
		return nil, err
	}
	rc, err := c.record("verify", engine.NameOr(req.Name, req.VK),
		[]debugrec.File{{Name: "vk", Data: req.VK.Data}, {Name: "proof", Data: nonNil(req.Proof)}, {Name: "public_inputs", Data: nonNil(req.Public)}},
		`"$BB" verify -k vk -p proof -i public_inputs -c replay/crs`+targetArgs(req.OracleHash))
	if err != nil {
		return nil, err
	}
	var resp *enginev1.VerifyResponse
	err = c.conn.WithArtifacts(ctx, "verify", []artifact.Artifact{req.VK}, func() (err error) {
		resp, err = c.rpc.Verify(ctx, &enginev1.NoirVerifyRequest{Vk: req.VK.Digest[:], Proof: req.Proof, PublicInputs: req.Public, OracleHash: o})
		return err
	})
	var res *VerifyResult
	if err == nil {
		res = &VerifyResult{Valid: resp.GetValid(), Reason: resp.GetReason(), Timings: engine.Timings(resp.GetTimings())}
	}
	return res, rc.Finish(nil, res, err)
}

// nonNil makes an empty input a file that exists (a circuit with no public
// inputs has an empty public_inputs file).
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// VkResult is a circuit's verifying key.
type VkResult struct {
	VK      artifact.Artifact `json:"-"`
	Timings []engine.Timing   `json:"timings"`
}

// Vk computes a circuit's verifying key for an oracle hash; it stays
// resident in the engine.
func (c *Client) Vk(ctx context.Context, name string, circuit artifact.Artifact, oracleHash string) (*VkResult, error) {
	o, err := oracle("vk", oracleHash)
	if err != nil {
		return nil, err
	}
	var rc engine.Recording
	if c.conn.Recording() {
		inputs, err := circuitFiles(circuit.Data, nil)
		if err != nil {
			return nil, err
		}
		rc, err = c.record("vk", engine.NameOr(name, circuit), inputs,
			`"$BB" write_vk -b circuit.json -o replay -c replay/crs`+targetArgs(oracleHash))
		if err != nil {
			return nil, err
		}
	}
	var resp *enginev1.NoirVkResponse
	err = c.conn.WithArtifacts(ctx, "vk", []artifact.Artifact{circuit}, func() (err error) {
		resp, err = c.rpc.Vk(ctx, &enginev1.NoirVkRequest{Circuit: circuit.Digest[:], OracleHash: o})
		return err
	})
	var res *VkResult
	var outs []debugrec.File
	if err == nil {
		vk := artifact.New(resp.GetVkBytes())
		if !engine.DigestEqual(vk.Digest, resp.GetVk()) {
			err = fmt.Errorf("vk: engine's vk bytes do not hash to the vk digest it sent")
		} else {
			res = &VkResult{VK: vk, Timings: engine.Timings(resp.GetTimings())}
			outs = []debugrec.File{{Name: "vk", Data: vk.Data}}
		}
	}
	return res, rc.Finish(outs, res, err)
}

// Stats is a circuit's size as bb counts it.
type Stats struct {
	Gates       uint32 `json:"gates"`
	DyadicSize  uint32 `json:"dyadic_size"`
	ACIROpcodes uint32 `json:"acir_opcodes"`
	// MaxDyadicSize is the largest dyadic size the engine's CRS serves.
	MaxDyadicSize uint32          `json:"max_dyadic_size"`
	Timings       []engine.Timing `json:"timings,omitempty"`
}

// Stats reads a circuit's gate count and the power of two bb proves over.
func (c *Client) Stats(ctx context.Context, name string, circuit artifact.Artifact) (*Stats, error) {
	var rc engine.Recording
	if c.conn.Recording() {
		inputs, err := circuitFiles(circuit.Data, nil)
		if err != nil {
			return nil, err
		}
		rc, err = c.record("stats", engine.NameOr(name, circuit), inputs, `"$BB" gates -b circuit.json > replay/gates.json`)
		if err != nil {
			return nil, err
		}
	}
	var resp *enginev1.NoirStatsResponse
	err := c.conn.WithArtifacts(ctx, "stats", []artifact.Artifact{circuit}, func() (err error) {
		resp, err = c.rpc.Stats(ctx, &enginev1.NoirStatsRequest{Circuit: circuit.Digest[:]})
		return err
	})
	var res *Stats
	if err == nil {
		res = &Stats{Gates: resp.GetGates(), DyadicSize: resp.GetDyadicSize(), ACIROpcodes: resp.GetAcirOpcodes(),
			MaxDyadicSize: resp.GetMaxDyadicSize(), Timings: engine.Timings(resp.GetTimings())}
	}
	return res, rc.Finish(nil, res, err)
}

// CheckResult says whether a witness satisfies a circuit.
type CheckResult = engine.CheckResult

// Check says whether witness satisfies the circuit. bb 5.0.0 cannot check
// a witness without proving (`bb check` is not implemented), so the engine
// proves and discards the proof; a recording replays it as a bb prove.
func (c *Client) Check(ctx context.Context, name string, circuit artifact.Artifact, witness []byte) (*CheckResult, error) {
	var rc engine.Recording
	if c.conn.Recording() {
		inputs, err := circuitFiles(circuit.Data, witness)
		if err != nil {
			return nil, err
		}
		rc, err = c.record("check", engine.NameOr(name, circuit), inputs,
			"# bb check is not implemented in bb 5.0.0: the engine checks by proving, and so does this.",
			`"$BB" prove -b circuit.json -w witness.gz --write_vk -o replay -c replay/crs`)
		if err != nil {
			return nil, err
		}
	}
	var resp *enginev1.CheckResponse
	err := c.conn.WithArtifacts(ctx, "check", []artifact.Artifact{circuit}, func() (err error) {
		resp, err = c.rpc.Check(ctx, &enginev1.NoirCheckRequest{Circuit: circuit.Digest[:], Witness: witness})
		return err
	})
	var res *CheckResult
	if err == nil {
		res = &CheckResult{Satisfied: resp.GetSatisfied(), Reason: resp.GetReason(), Timings: engine.Timings(resp.GetTimings())}
	}
	return res, rc.Finish(nil, res, err)
}

// Solidity exports bb's Solidity verifier for a verifying key computed
// with the Keccak oracle hash.
func (c *Client) Solidity(ctx context.Context, name string, vk artifact.Artifact) (string, error) {
	rc, err := c.record("solidity", engine.NameOr(name, vk), []debugrec.File{{Name: "vk", Data: vk.Data}},
		`"$BB" write_solidity_verifier -k vk -o replay/Verifier.sol -t evm -c replay/crs`)
	if err != nil {
		return "", err
	}
	var resp *enginev1.SolidityResponse
	err = c.conn.WithArtifacts(ctx, "solidity", []artifact.Artifact{vk}, func() (err error) {
		resp, err = c.rpc.Solidity(ctx, &enginev1.NoirSolidityRequest{Vk: vk.Digest[:]})
		return err
	})
	var outs []debugrec.File
	if err == nil {
		outs = []debugrec.File{{Name: "Verifier.sol", Data: []byte(resp.GetSource())}}
	}
	return resp.GetSource(), rc.Finish(outs, nil, err)
}
