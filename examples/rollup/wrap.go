package rollup

import (
	"errors"
	"fmt"
	"math/big"

	fr_bls12377 "github.com/consensys/gnark-crypto/ecc/bls12-377/fr"
	"github.com/consensys/gnark/backend"
	"github.com/consensys/gnark/backend/groth16"
	groth16bw6761 "github.com/consensys/gnark/backend/groth16/bw6-761"
	"github.com/consensys/gnark/backend/witness"
	"github.com/consensys/gnark/constraint"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/frontend/cs/r1cs"
	"github.com/consensys/gnark/std/algebra/emulated/sw_bw6761"
	"github.com/consensys/gnark/std/commitments/pedersen"
	"github.com/consensys/gnark/std/math/emulated"
	stdgroth16 "github.com/consensys/gnark/std/recursion/groth16"
)

// WrapCurve is the wrapper circuit's curve: BN254, so gnark's exported
// Solidity verifier checks its proofs on Ethereum.
const WrapCurve = AggregateCurve

type (
	batchFr    = sw_bw6761.ScalarField
	batchProof = stdgroth16.Proof[sw_bw6761.G1Affine, sw_bw6761.G2Affine]
	batchVKey  = stdgroth16.VerifyingKey[sw_bw6761.G1Affine, sw_bw6761.G2Affine, sw_bw6761.GTEl]
)

// wrapCircuit proves that Proof is a valid batch proof, under the fixed
// batch verifying key, of (PrevRoot, Root): the pairing of BW6-761 emulated
// in BN254's scalar field.
type wrapCircuit struct {
	PrevRoot frontend.Variable `gnark:",public"`
	Root     frontend.Variable `gnark:",public"`
	Proof    batchProof

	// vk is a circuit constant: the wrap proof attests to this batch
	// circuit and setup only (and through the batch circuit's own constant,
	// to the tx circuit and setup).
	vk batchVKey `gnark:"-"`
}

// rMinus1 is the largest BLS12-377 scalar.
var rMinus1 = new(big.Int).Sub(fr_bls12377.Modulus(), big.NewInt(1))

func (c *wrapCircuit) Define(api frontend.API) error {
	verifier, err := stdgroth16.NewVerifier[batchFr, sw_bw6761.G1Affine, sw_bw6761.G2Affine, sw_bw6761.GTEl](api)
	if err != nil {
		return fmt.Errorf("new verifier: %w", err)
	}
	fr, err := emulated.NewField[batchFr](api)
	if err != nil {
		return fmt.Errorf("batch scalar field: %w", err)
	}
	// scalar turns a native BN254 value into a BW6-761 scalar, requiring it
	// a canonical BLS12-377 scalar (< r, which is below BN254's modulus),
	// as the batch circuit requires of its own public inputs: so each root
	// has one encoding on both sides.
	scalar := func(v frontend.Variable) emulated.Element[batchFr] {
		bits := api.ToBinary(v, fr_bls12377.Bits)
		api.AssertIsLessOrEqual(v, rMinus1)
		return *fr.FromBits(bits...)
	}
	public := []emulated.Element[batchFr]{scalar(c.PrevRoot), scalar(c.Root)}
	if err := verifier.AssertProof(c.vk, c.Proof, stdgroth16.Witness[batchFr]{Public: public}); err != nil {
		return fmt.Errorf("batch proof: %w", err)
	}
	return nil
}

// CompileWrap compiles the wrapper circuit on BN254: it verifies one batch
// proof (BW6-761, a proof of CompileBatch(p, ·) made with
// BatchProverOptionForWrap) in-circuit under batchVK, which becomes a
// circuit constant. Public inputs, in order: PrevRoot, Root. It is the last
// stage of the evm profile, where each block settles on its own.
func CompileWrap(p Params, batchVK groth16.VerifyingKey) (constraint.ConstraintSystem, error) {
	if _, err := checked(p); err != nil {
		return nil, err
	}
	if batchVK == nil {
		return nil, errors.New("rollup: compile wrap: nil batch verifying key")
	}
	vk, ok := batchVK.(*groth16bw6761.VerifyingKey)
	if !ok {
		return nil, fmt.Errorf("rollup: compile wrap: batch verifying key on %s, want %s", batchVK.CurveID(), BatchCurve)
	}
	if n := len(vk.G1.K) - 1 - len(vk.PublicAndCommitmentCommitted); n != 2 {
		return nil, fmt.Errorf("rollup: compile wrap: batch verifying key has %d public inputs, want 2", n)
	}
	if n := len(vk.CommitmentKeys); n > maxProofCommitments {
		return nil, fmt.Errorf("rollup: compile wrap: batch verifying key has %d commitments, at most %d", n, maxProofCommitments)
	}
	cvk, err := stdgroth16.ValueOfVerifyingKeyFixed[sw_bw6761.G1Affine, sw_bw6761.G2Affine, sw_bw6761.GTEl](batchVK)
	if err != nil {
		return nil, fmt.Errorf("rollup: compile wrap: batch verifying key: %w", err)
	}
	c := &wrapCircuit{vk: cvk}
	// The placeholder proof needs only the commitment count, which the key
	// fixes (PlaceholderProof would need the batch constraint system).
	c.Proof.Commitments = make([]pedersen.Commitment[sw_bw6761.G1Affine], len(vk.CommitmentKeys))
	ccs, err := frontend.Compile(WrapCurve.ScalarField(), r1cs.NewBuilder, c)
	if err != nil {
		return nil, fmt.Errorf("rollup: compile wrap circuit: %w", err)
	}
	return ccs, nil
}

// WrapWitness is the full BN254 witness for CompileWrap(p, ·) over block b's
// batch proof (groth16 Proof.WriteTo's bytes). It fails on a malformed
// block, non-canonical roots or a malformed proof; a proof that does not
// verify for b's roots yields a witness the circuit rejects. A proof with
// another commitment count than the batch key's yields a witness of another
// size, which the engine refuses.
func WrapWitness(p Params, b *Block, proof []byte) (witness.Witness, error) {
	if _, err := checked(p); err != nil {
		return nil, err
	}
	if b == nil {
		return nil, errors.New("rollup: wrap witness: nil block")
	}
	prev, root := b.PrevRoot(), b.Root()
	if err := errors.Join(checkRoot("PrevRoot", prev), checkRoot("Root", root)); err != nil {
		return nil, fmt.Errorf("rollup: wrap witness: block %d: %w", b.Height, err)
	}
	bp, err := decodeProof(BatchCurve, proof)
	if err != nil {
		return nil, fmt.Errorf("rollup: wrap witness: block %d: batch proof: %w", b.Height, err)
	}
	cp, err := stdgroth16.ValueOfProof[sw_bw6761.G1Affine, sw_bw6761.G2Affine](bp)
	if err != nil {
		return nil, fmt.Errorf("rollup: wrap witness: block %d: batch proof: %w", b.Height, err)
	}
	a := &wrapCircuit{PrevRoot: rootInt(prev), Root: rootInt(root), Proof: cp}
	w, err := frontend.NewWitness(a, WrapCurve.ScalarField())
	if err != nil {
		return nil, fmt.Errorf("rollup: wrap witness: block %d: %w", b.Height, err)
	}
	return w, nil
}

// BatchProverOptionForWrap must be passed to groth16.Prove for batch proofs
// the wrapper verifies: its in-circuit verifier hashes the batch proof's
// commitments with MiMC over BN254's scalar field (the engine's target
// "bn254").
func BatchProverOptionForWrap() backend.ProverOption {
	return stdgroth16.GetNativeProverOptions(WrapCurve.ScalarField(), BatchCurve.ScalarField())
}

// BatchVerifierOptionForWrap is BatchProverOptionForWrap's counterpart for
// groth16.Verify.
func BatchVerifierOptionForWrap() backend.VerifierOption {
	return stdgroth16.GetNativeVerifierOptions(WrapCurve.ScalarField(), BatchCurve.ScalarField())
}

// WrapStatement digests what a wrap proof proves: AggregateStatement over
// the one batch it verifies (the params, its height, roots and
// sha256(proof)). The receipt's image (the wrap circuit and key) keeps it
// apart from an aggregate over the same batch.
func WrapStatement(p Params, ref BatchRef) [32]byte {
	return AggregateStatement(p, []BatchRef{ref})
}
