package rollup

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/consensys/gnark/backend"
	"github.com/consensys/gnark/backend/groth16"
	groth16bw6761 "github.com/consensys/gnark/backend/groth16/bw6-761"
	"github.com/consensys/gnark/backend/solidity"
	"github.com/consensys/gnark/constraint"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/frontend/cs/r1cs"
)

// heavy skips a test unless PROOFD_HEAVY=1: the wrap circuit emulates a
// BW6-761 pairing in BN254 (millions of constraints, minutes and gigabytes).
func heavy(t *testing.T) {
	t.Helper()
	if os.Getenv("PROOFD_HEAVY") != "1" {
		t.Skip("set PROOFD_HEAVY=1: compiles, sets up and proves the BN254 wrapper of a BW6-761 proof")
	}
}

// onePublic is a BW6-761 circuit with one public input: its key is not a
// batch key.
type onePublic struct {
	X frontend.Variable `gnark:",public"`
}

func (c *onePublic) Define(api frontend.API) error {
	api.AssertIsDifferent(c.X, 0)
	return nil
}

func TestCompileWrapErrors(t *testing.T) {
	p := Params{Depth: 2, TxsPerBlock: 1, BundleSize: 1}
	if _, err := CompileWrap(p, nil); err == nil || !strings.Contains(err.Error(), "nil batch verifying key") {
		t.Errorf("nil vk: %v", err)
	}
	f := fixture(t)
	if _, err := CompileWrap(p, f.vk); err == nil || !strings.Contains(err.Error(), "bls12_377") {
		t.Errorf("tx (bls12-377) vk: %v", err)
	}
	ccs, err := frontend.Compile(BatchCurve.ScalarField(), r1cs.NewBuilder, &onePublic{})
	if err != nil {
		t.Fatal(err)
	}
	_, vk, err := groth16.Setup(ccs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CompileWrap(p, vk); err == nil || !strings.Contains(err.Error(), "1 public inputs, want 2") {
		t.Errorf("bw6-761 vk with 1 public input: %v", err)
	}
	if _, err := CompileWrap(Params{Depth: 99}, vk); err == nil || !strings.Contains(err.Error(), "Depth") {
		t.Errorf("bad params: %v", err)
	}
}

func TestWrapWitnessErrors(t *testing.T) {
	p := Params{Depth: 2, TxsPerBlock: 1, BundleSize: 1}
	b := firstBlock(t, p)
	f := fixture(t)
	for _, tc := range []struct {
		name, mention string
		proof         []byte
	}{
		{"no proof", "too short", nil},
		{"short", "too short", make([]byte, 10)},
		{"huge commitment count", "commitments", append(make([]byte, 288), 0xff, 0xff, 0xff, 0xff)},
		{"garbage", "bw6_761", append(append(bytes.Repeat([]byte{0x5a}, 288), 0, 0, 0, 0), bytes.Repeat([]byte{0x5a}, 96)...)},
		{"a bls12-377 proof", "bytes", f.proofs[0]},
	} {
		if _, err := WrapWitness(p, b, tc.proof); err == nil || !strings.Contains(strings.ToLower(err.Error()), tc.mention) {
			t.Errorf("%s: err %v, want one mentioning %q", tc.name, err, tc.mention)
		}
	}
	if _, err := WrapWitness(p, nil, nil); err == nil {
		t.Error("nil block accepted")
	}
	nc := *b
	nc.Txs = append([]Tx(nil), b.Txs...)
	nc.Txs[0].OldRoot[0] = 0xff // PrevRoot
	if _, err := WrapWitness(p, &nc, nil); err == nil || !strings.Contains(err.Error(), "PrevRoot") {
		t.Errorf("non-canonical PrevRoot: %v", err)
	}
}

// wrapFixture is a batch proof made for the wrapper (and one made natively)
// and the compiled wrapper over its key.
func wrapFixture(t *testing.T) (p Params, b *Block, ccs constraint.ConstraintSystem, forWrap, native []byte) {
	t.Helper()
	f := fixture(t)
	p, b = f.p, f.block
	batchCCS, err := CompileBatch(p, f.vk)
	if err != nil {
		t.Fatal(err)
	}
	bpk, bvk := keys(t, "batch", batchCCS)
	bw, err := BatchWitness(p, b, f.proofs)
	if err != nil {
		t.Fatal(err)
	}
	forWrap = proveVerify(t, "batch for the wrapper", batchCCS, bpk, bvk, bw,
		[]backend.ProverOption{BatchProverOptionForWrap()}, []backend.VerifierOption{BatchVerifierOptionForWrap()})
	native = proveVerify(t, "batch, native", batchCCS, bpk, bvk, bw, nil, nil)
	t.Logf("batch circuit: %d commitments", len(bvk.(*groth16bw6761.VerifyingKey).CommitmentKeys))

	start := time.Now()
	ccs, err = CompileWrap(p, bvk)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("wrap compile %v, %d constraints", time.Since(start).Round(time.Millisecond), ccs.GetNbConstraints())
	if n := ccs.GetNbPublicVariables() - 1; n != 2 {
		t.Fatalf("wrap circuit has %d public inputs, want 2", n)
	}
	return p, b, ccs, forWrap, native
}

// TestWrapCircuitSolves: the wrapper is satisfied by the block's batch proof
// made for it, and not for other roots, nor (when the batch circuit
// commits) by the same batch proof made natively, whose commitment hash is
// not the one the in-circuit verifier computes. Heavy (compile and solve,
// no setup): PROOFD_HEAVY=1.
func TestWrapCircuitSolves(t *testing.T) {
	heavy(t)
	p, b, ccs, forWrap, native := wrapFixture(t)
	solved := func(name string, blk *Block, proof []byte) bool {
		t.Helper()
		w, err := WrapWitness(p, blk, proof)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		start := time.Now()
		err = ccs.IsSolved(w)
		t.Logf("%s: solved %v in %v (%v)", name, err == nil, time.Since(start).Round(time.Millisecond), err)
		return err == nil
	}
	if !solved("the block's batch proof", b, forWrap) {
		t.Fatal("the wrapper rejects a valid batch proof made for it")
	}
	other := *b
	other.Txs = append([]Tx(nil), b.Txs...)
	other.Txs[0].OldRoot = b.Root()
	if solved("another PrevRoot", &other, forWrap) {
		t.Error("a batch proof satisfies the wrapper for another PrevRoot")
	}
	if proof, err := decodeProof(BatchCurve, native); err != nil {
		t.Fatal(err)
	} else if len(proof.(*groth16bw6761.Proof).Commitments) > 0 {
		if solved("the batch proof made natively", b, native) {
			t.Error("a natively made batch proof (default hash-to-field) satisfies the wrapper")
		}
	}
}

// TestWrapCircuit proves the wrapper and checks the proof as gnark's
// Solidity verifier would. Heavy (a setup of millions of constraints):
// PROOFD_HEAVY=1.
func TestWrapCircuit(t *testing.T) {
	heavy(t)
	p, b, ccs, forWrap, _ := wrapFixture(t)
	w, err := WrapWitness(p, b, forWrap)
	if err != nil {
		t.Fatal(err)
	}
	pk, vk := keys(t, "wrap", ccs)
	proveVerify(t, "wrap", ccs, pk, vk, w,
		[]backend.ProverOption{solidity.WithProverTargetSolidityVerifier(backend.GROTH16)},
		[]backend.VerifierOption{solidity.WithVerifierTargetSolidityVerifier(backend.GROTH16)})
}
