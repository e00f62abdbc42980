package evm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark/backend/groth16"
	groth16bn254 "github.com/consensys/gnark/backend/groth16/bn254"
	"github.com/consensys/gnark/backend/plonk"
	plonkbn254 "github.com/consensys/gnark/backend/plonk/bn254"
	"github.com/consensys/gnark/backend/witness"
	"github.com/ethereum/go-ethereum/crypto"
)

// Schemes, as the rest of proofd names them.
const (
	Groth16 = "groth16"
	Plonk   = "plonk"
)

// PlonkSignature is the verify function of gnark's exported PLONK verifier
// (contract PlonkVerifier). It returns true for a valid proof; an invalid
// one returns false or reverts.
const PlonkSignature = "Verify(bytes,uint256[])"

// Groth16Signature is the verify function of gnark's exported Groth16
// verifier (contract Verifier) for a key with nbPublic public inputs: the
// proof as 256 bytes (MarshalSolidity: A, B, C uncompressed, EIP-197
// order), then the inputs as a fixed-size array. It returns nothing and
// reverts on an invalid proof. The selector depends on nbPublic.
func Groth16Signature(nbPublic int) string {
	return fmt.Sprintf("verifyProof(bytes,uint256[%d])", nbPublic)
}

// Selector is the 4-byte function selector of an ABI signature.
func Selector(signature string) [4]byte {
	var s [4]byte
	copy(s[:], crypto.Keccak256([]byte(signature))[:4])
	return s
}

// ErrCommitments refuses Groth16 proofs with Pedersen commitments (circuits
// that use api.Commit, or gnark gadgets built on it) unless the caller says
// the proof was made for the Solidity target. The exported contract hashes
// each commitment to a field element with keccak256; a proof made with
// gnark's default hash-to-field (proofd prove without --target solidity)
// can never verify on chain, and nothing in the proof says which hash it
// was made with, so the calldata would only waste gas.
var ErrCommitments = errors.New("the Groth16 proof has Pedersen commitments (the circuit uses api.Commit): " +
	"gnark's Solidity verifier hashes them with keccak256, so it accepts only proofs made for the solidity target " +
	"(proofd prove --target solidity); if this one was, say so (proofd calldata --solidity-target)")

// Groth16Calldata is the call to gnark's exported Groth16 verifier that
// verifies proof for public: selector of Groth16Signature(n), then the ABI
// encoding of (bytes proof, uint256[n] input). Proofs with commitments are
// refused (ErrCommitments): use Groth16SolidityCalldata for those made for
// the Solidity target.
func Groth16Calldata(proof groth16.Proof, public witness.Witness) ([]byte, error) {
	return groth16Calldata(proof, public, false)
}

// Groth16SolidityCalldata is Groth16Calldata for a proof the caller knows
// was made for the Solidity target (gnark's
// solidity.WithProverTargetSolidityVerifier, proofd prove --target
// solidity): proofs with commitments are encoded too, the commitments and
// their proof of knowledge after A, B, C as MarshalSolidity lays them out.
// For a proof without commitments it is Groth16Calldata.
func Groth16SolidityCalldata(proof groth16.Proof, public witness.Witness) ([]byte, error) {
	return groth16Calldata(proof, public, true)
}

func groth16Calldata(proof groth16.Proof, public witness.Witness, solidityTarget bool) ([]byte, error) {
	p, ok := proof.(*groth16bn254.Proof)
	if !ok {
		return nil, fmt.Errorf("a %s Groth16 proof: Solidity verifiers exist for bn254 only", curveName(proof.CurveID()))
	}
	if len(p.Commitments) > 0 && !solidityTarget {
		return nil, ErrCommitments
	}
	inputs, err := publicInputs(public)
	if err != nil {
		return nil, err
	}
	return encodeGroth16(p.MarshalSolidity(), inputs), nil
}

// PlonkCalldata is the call to gnark's exported PLONK verifier that verifies
// proof for public: selector of PlonkSignature, then the ABI encoding of
// (bytes proof, uint256[] public_inputs).
func PlonkCalldata(proof plonk.Proof, public witness.Witness) ([]byte, error) {
	p, ok := proof.(*plonkbn254.Proof)
	if !ok {
		return nil, fmt.Errorf("not a bn254 PLONK proof (%T): Solidity verifiers exist for bn254 only", proof)
	}
	inputs, err := publicInputs(public)
	if err != nil {
		return nil, err
	}
	return encodePlonk(p.MarshalSolidity(), inputs), nil
}

// publicInputs are the public witness's values as 32-byte big-endian words.
func publicInputs(public witness.Witness) ([][32]byte, error) {
	if public == nil {
		return nil, errors.New("no public witness")
	}
	v, ok := public.Vector().(fr.Vector)
	if !ok {
		return nil, fmt.Errorf("the public witness is not over the bn254 scalar field")
	}
	// A full witness has the same vector type; only its public part goes on chain.
	nbPub, nbSec, err := witnessCounts(public)
	if err != nil {
		return nil, err
	}
	if nbSec != 0 || nbPub != len(v) {
		return nil, fmt.Errorf("has %d secret values: want a public witness (proofd prove --public), not a full one", nbSec)
	}
	out := make([][32]byte, len(v))
	for i := range v {
		out[i] = v[i].Bytes()
	}
	return out, nil
}

// encodeGroth16 ABI-encodes verifyProof(bytes proof, uint256[n] input).
// The static array lies in the head, so the proof's offset is 32·(1+n).
func encodeGroth16(proof []byte, inputs [][32]byte) []byte {
	sel := Selector(Groth16Signature(len(inputs)))
	out := make([]byte, 0, 4+32*(1+len(inputs))+32+padded(len(proof)))
	out = append(out, sel[:]...)
	out = appendUint(out, uint64(32*(1+len(inputs))))
	for _, in := range inputs {
		out = append(out, in[:]...)
	}
	return appendBytes(out, proof)
}

// encodePlonk ABI-encodes Verify(bytes proof, uint256[] public_inputs).
func encodePlonk(proof []byte, inputs [][32]byte) []byte {
	sel := Selector(PlonkSignature)
	out := make([]byte, 0, 4+64+32+padded(len(proof))+32+32*len(inputs))
	out = append(out, sel[:]...)
	out = appendUint(out, 64)
	out = appendUint(out, uint64(64+32+padded(len(proof))))
	out = appendBytes(out, proof)
	out = appendUint(out, uint64(len(inputs)))
	for _, in := range inputs {
		out = append(out, in[:]...)
	}
	return out
}

// witnessCounts reads the public and secret counts from the witness's
// encoding header, which the Witness interface does not otherwise expose.
func witnessCounts(w witness.Witness) (nbPublic, nbSecret int, err error) {
	b, err := w.MarshalBinary()
	if err != nil {
		return 0, 0, err
	}
	if len(b) < 12 {
		return 0, 0, fmt.Errorf("witness encoding of %d bytes has no header", len(b))
	}
	return int(binary.BigEndian.Uint32(b)), int(binary.BigEndian.Uint32(b[4:])), nil
}

func padded(n int) int { return (n + 31) / 32 * 32 }

func appendUint(b []byte, v uint64) []byte {
	var w [32]byte
	binary.BigEndian.PutUint64(w[24:], v)
	return append(b, w[:]...)
}

// appendBytes appends the ABI tail of a bytes value: length, data, zero padding.
func appendBytes(b, data []byte) []byte {
	b = appendUint(b, uint64(len(data)))
	b = append(b, data...)
	return append(b, make([]byte, padded(len(data))-len(data))...)
}

func curveName(c ecc.ID) string {
	switch c {
	case ecc.BLS12_377:
		return "bls12-377"
	case ecc.BW6_761:
		return "bw6-761"
	}
	return c.String()
}

// bn254R is the bn254 scalar field modulus: the contracts reject public
// inputs at or above it.
var bn254R = ecc.BN254.ScalarField()

func reduced(b []byte) bool { return new(big.Int).SetBytes(b).Cmp(bn254R) < 0 }
