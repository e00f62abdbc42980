package snark

import (
	"fmt"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/backend"
	"github.com/consensys/gnark/backend/solidity"
	stdgroth16 "github.com/consensys/gnark/std/recursion/groth16"

	"github.com/proofd/proofd/proto/enginev1"
)

// targetOptions are the prover and verifier options that make a proof of
// scheme on curve verifiable where target says (enginev1.ProofTarget). The
// error, for a target that does not fit, is the reason of a BadInput
// "target".
func targetOptions(target enginev1.ProofTarget, scheme string, curve ecc.ID) ([]backend.ProverOption, []backend.VerifierOption, error) {
	inCircuit := func(outer ecc.ID, inner ...ecc.ID) ([]backend.ProverOption, []backend.VerifierOption, error) {
		if scheme != "groth16" {
			return nil, nil, fmt.Errorf("%s: in-circuit targets are for Groth16 proofs, this is a %s key", targetName(target), scheme)
		}
		for _, c := range inner {
			if c == curve {
				return []backend.ProverOption{stdgroth16.GetNativeProverOptions(outer.ScalarField(), curve.ScalarField())},
					[]backend.VerifierOption{stdgroth16.GetNativeVerifierOptions(outer.ScalarField(), curve.ScalarField())}, nil
			}
		}
		names := make([]string, len(inner))
		for i, c := range inner {
			names[i] = CurveName(c)
		}
		return nil, nil, fmt.Errorf("%s: a %s circuit verifies Groth16 proofs on %v, this key is on %s", targetName(target), CurveName(outer), names, CurveName(curve))
	}
	switch target {
	case enginev1.ProofTarget_PROOF_TARGET_NATIVE:
		return nil, nil, nil
	case enginev1.ProofTarget_PROOF_TARGET_SOLIDITY:
		if curve != ecc.BN254 {
			return nil, nil, fmt.Errorf("%s: Solidity verifiers exist for bn254 keys only, this one is on %s", targetName(target), CurveName(curve))
		}
		id := backend.GROTH16
		if scheme == "plonk" {
			id = backend.PLONK
		}
		return []backend.ProverOption{solidity.WithProverTargetSolidityVerifier(id)},
			[]backend.VerifierOption{solidity.WithVerifierTargetSolidityVerifier(id)}, nil
	case enginev1.ProofTarget_PROOF_TARGET_IN_BN254:
		return inCircuit(ecc.BN254, ecc.BN254, ecc.BLS12_381, ecc.BW6_761)
	case enginev1.ProofTarget_PROOF_TARGET_IN_BW6_761:
		return inCircuit(ecc.BW6_761, ecc.BLS12_377, ecc.BN254, ecc.BLS12_381, ecc.BW6_761)
	}
	return nil, nil, fmt.Errorf("unknown proof target %d", int32(target))
}

// targetName is the name proofd's CLI and client use for a target.
func targetName(t enginev1.ProofTarget) string {
	switch t {
	case enginev1.ProofTarget_PROOF_TARGET_NATIVE:
		return "native"
	case enginev1.ProofTarget_PROOF_TARGET_SOLIDITY:
		return "solidity"
	case enginev1.ProofTarget_PROOF_TARGET_IN_BN254:
		return "bn254"
	case enginev1.ProofTarget_PROOF_TARGET_IN_BW6_761:
		return "bw6-761"
	}
	return fmt.Sprintf("target %d", int32(t))
}
