package circuits

import (
	"fmt"
	"math/big"

	"github.com/consensys/gnark-crypto/ecc"
	fr_bls12377 "github.com/consensys/gnark-crypto/ecc/bls12-377/fr"
	"github.com/consensys/gnark/backend/groth16"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/frontend/cs/r1cs"
	"github.com/consensys/gnark/std/algebra/native/sw_bls12377"
	"github.com/consensys/gnark/std/math/emulated"
	stdgroth16 "github.com/consensys/gnark/std/recursion/groth16"
)

// Inner proofs are on BLS12-377, verified natively inside BW6-761 (a 2-chain:
// BW6-761's scalar field is BLS12-377's base field).
const (
	innerCurve = ecc.BLS12_377
	outerCurve = ecc.BW6_761
)

type (
	innerFr    = sw_bls12377.ScalarField
	innerProof = stdgroth16.Proof[sw_bls12377.G1Affine, sw_bls12377.G2Affine]
	innerVK    = stdgroth16.VerifyingKey[sw_bls12377.G1Affine, sw_bls12377.G2Affine, sw_bls12377.GT]
)

// recursive proves that Proof is a valid Groth16 proof, under the fixed
// verifying key vk, that the inner mimc chain ends at Out.
type recursive struct {
	Out   frontend.Variable `gnark:",public"`
	Proof innerProof

	// vk is a circuit constant rather than a witness: the outer proof then
	// attests to this particular inner circuit and setup, and gnark
	// precomputes the fixed G2 lines, making the pairing cheaper.
	vk innerVK `gnark:"-"`
}

func (c *recursive) Define(api frontend.API) error {
	verifier, err := stdgroth16.NewVerifier[innerFr, sw_bls12377.G1Affine, sw_bls12377.G2Affine, sw_bls12377.GT](api)
	if err != nil {
		return fmt.Errorf("new verifier: %w", err)
	}
	fr, err := emulated.NewField[innerFr](api)
	if err != nil {
		return fmt.Errorf("inner scalar field: %w", err)
	}
	// Out is a native BW6-761 value. Decompose it into an inner scalar and
	// require it to be canonical (< r), otherwise Out and Out+r would both
	// verify against the same inner proof.
	out := fr.FromBits(api.ToBinary(c.Out, fr_bls12377.Bits)...)
	fr.AssertIsInRange(out)
	return verifier.AssertProof(c.vk, c.Proof, stdgroth16.Witness[innerFr]{Public: []emulated.Element[innerFr]{*out}})
}

func recursiveExample(size int, curve ecc.ID) (frontend.Circuit, frontend.Circuit, error) {
	// curve is BW6-761, checked by Build; the inner chain is on innerCurve.
	innerCircuit, innerAssignment, err := mimcExample(size, innerCurve)
	if err != nil {
		return nil, nil, err
	}
	ccs, err := frontend.Compile(innerCurve.ScalarField(), r1cs.NewBuilder, innerCircuit)
	if err != nil {
		return nil, nil, fmt.Errorf("compile inner: %w", err)
	}
	w, err := frontend.NewWitness(innerAssignment, innerCurve.ScalarField())
	if err != nil {
		return nil, nil, fmt.Errorf("inner witness: %w", err)
	}
	// Insecure, randomized setup: fine for an example, the toxic waste is
	// simply dropped.
	pk, vk, err := groth16.Setup(ccs)
	if err != nil {
		return nil, nil, fmt.Errorf("inner setup: %w", err)
	}
	// The in-circuit verifier hashes commitments to the field differently from
	// the default native prover. The chain has no commitments, but the options
	// keep the two consistent if it ever gets some.
	proof, err := groth16.Prove(ccs, pk, w, stdgroth16.GetNativeProverOptions(curve.ScalarField(), innerCurve.ScalarField()))
	if err != nil {
		return nil, nil, fmt.Errorf("inner prove: %w", err)
	}

	cvk, err := stdgroth16.ValueOfVerifyingKeyFixed[sw_bls12377.G1Affine, sw_bls12377.G2Affine, sw_bls12377.GT](vk)
	if err != nil {
		return nil, nil, fmt.Errorf("inner verifying key: %w", err)
	}
	cproof, err := stdgroth16.ValueOfProof[sw_bls12377.G1Affine, sw_bls12377.G2Affine](proof)
	if err != nil {
		return nil, nil, fmt.Errorf("inner proof: %w", err)
	}
	out := innerAssignment.(*mimcChain).Out.(*big.Int)
	placeholder := &recursive{
		Proof: stdgroth16.PlaceholderProof[sw_bls12377.G1Affine, sw_bls12377.G2Affine](ccs),
		vk:    cvk,
	}
	return placeholder, &recursive{Out: out, Proof: cproof}, nil
}
