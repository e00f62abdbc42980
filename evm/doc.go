// Package evm turns proofd's proofs into calls to the Solidity verifiers
// gnark exports (proofd solidity): the ABI-encoded calldata, selector and
// arguments, that a transaction to the contract carries.
//
// gnark v0.15.0 exports, for a BN254 verifying key,
//
//	Groth16: contract Verifier, verifyProof(bytes proof, uint256[N] input),
//	         which returns nothing and reverts (ProofInvalid,
//	         PublicInputNotInField) unless the proof is valid;
//	PLONK:   contract PlonkVerifier, Verify(bytes proof, uint256[] public_inputs)
//	         returns (bool), false or a revert for an invalid proof.
//
// The proof bytes are gnark's MarshalSolidity: uncompressed points in the
// order the precompiles take them. Groth16 proofs with Pedersen commitments
// are refused (ErrCommitments) unless the caller says they were made for the
// Solidity target (Options.SolidityTarget, Groth16SolidityCalldata), whose
// keccak256 hash-to-field the contract uses. Package evmtest compiles the exported
// contracts with the real solc and runs them in go-ethereum's EVM.
package evm
