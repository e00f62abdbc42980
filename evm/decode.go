package evm

import (
	"encoding/binary"
	"fmt"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/backend/groth16"
	groth16bn254 "github.com/consensys/gnark/backend/groth16/bn254"
	"github.com/consensys/gnark/backend/plonk"
	plonkbn254 "github.com/consensys/gnark/backend/plonk/bn254"
	"github.com/consensys/gnark/backend/witness"
	"github.com/proofd/proofd/internal/gnarkio"
)

// Caps on untrusted sizes, far above real inputs: proofs are under 2 KiB; a
// 4 MiB Groth16 key has ~130k public inputs.
const (
	maxProofBytes  = 64 << 10
	maxVKBytes     = 4 << 20
	maxPublicBytes = 12 + 32*(1<<20)
)

// InputError is a problem with one input: "proof", "public" or "vk", the
// names the CLI's flags have.
type InputError struct {
	Input string
	Err   error
}

func (e *InputError) Error() string { return e.Input + ": " + e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// Proof is a decoded BN254 proof: exactly one of Groth16 and Plonk is set.
type Proof struct {
	Scheme  string
	Groth16 groth16.Proof
	Plonk   plonk.Proof
}

// DecodeProof reads a proof as gnark's WriteTo writes it (what proofd prove
// writes), finding the scheme. Points are checked to be on the curve and in
// the subgroup. A proof for another curve is recognized and refused.
func DecodeProof(data []byte) (*Proof, error) {
	if len(data) > maxProofBytes {
		return nil, fmt.Errorf("%d bytes: larger than any proof (%d)", len(data), maxProofBytes)
	}
	g := groth16.NewProof(ecc.BN254)
	gerr := gnarkio.ReadAll(g, data)
	if gerr == nil {
		return &Proof{Scheme: Groth16, Groth16: g}, nil
	}
	p := plonk.NewProof(ecc.BN254)
	if gnarkio.ReadAll(p, data) == nil {
		return &Proof{Scheme: Plonk, Plonk: p}, nil
	}
	for _, c := range []ecc.ID{ecc.BLS12_377, ecc.BW6_761} {
		if gnarkio.ReadAll(groth16.NewProof(c), data) == nil {
			return nil, fmt.Errorf("a %s Groth16 proof: Solidity verifiers exist for bn254 only", curveName(c))
		}
		if gnarkio.ReadAll(plonk.NewProof(c), data) == nil {
			return nil, fmt.Errorf("a %s PLONK proof: Solidity verifiers exist for bn254 only", curveName(c))
		}
	}
	return nil, fmt.Errorf("not a bn254 Groth16 or PLONK proof in gnark's encoding (as Groth16: %v)", gerr)
}

// VerifyingKey is what calldata needs to know of a BN254 verifying key.
type VerifyingKey struct {
	Scheme      string
	NbPublic    int
	Commitments int
}

// DecodeVK reads a verifying key as proofd setup writes it.
func DecodeVK(data []byte) (*VerifyingKey, error) {
	if len(data) > maxVKBytes {
		return nil, fmt.Errorf("%d bytes: larger than any verifying key (%d)", len(data), maxVKBytes)
	}
	g := groth16.NewVerifyingKey(ecc.BN254)
	gerr := gnarkio.ReadAll(g, data)
	if gerr == nil {
		vk := g.(*groth16bn254.VerifyingKey)
		return &VerifyingKey{Scheme: Groth16, NbPublic: vk.NbPublicWitness() - len(vk.PublicAndCommitmentCommitted), Commitments: len(vk.PublicAndCommitmentCommitted)}, nil
	}
	p := plonk.NewVerifyingKey(ecc.BN254)
	if gnarkio.ReadAll(p, data) == nil {
		vk := p.(*plonkbn254.VerifyingKey)
		if vk.NbPublicVariables > uint64(maxPublicBytes/32) {
			return nil, fmt.Errorf("corrupt PLONK key: %d public inputs", vk.NbPublicVariables)
		}
		return &VerifyingKey{Scheme: Plonk, NbPublic: int(vk.NbPublicVariables), Commitments: len(vk.CommitmentConstraintIndexes)}, nil
	}
	for _, c := range []ecc.ID{ecc.BLS12_377, ecc.BW6_761} {
		if gnarkio.ReadAll(groth16.NewVerifyingKey(c), data) == nil || gnarkio.ReadAll(plonk.NewVerifyingKey(c), data) == nil {
			return nil, fmt.Errorf("a %s verifying key: Solidity verifiers exist for bn254 only", curveName(c))
		}
	}
	return nil, fmt.Errorf("not a bn254 Groth16 or PLONK verifying key (as Groth16: %v)", gerr)
}

// DecodePublic reads a BN254 public witness as gnark's MarshalBinary writes
// it (what proofd prove writes with --public):
//
//	u32be nbPublic | u32be nbSecret | u32be n | n values, 32 bytes big-endian
//
// Values must be reduced: the contracts reject unreduced inputs.
func DecodePublic(data []byte) (witness.Witness, error) {
	if len(data) < 12 {
		return nil, fmt.Errorf("truncated: %d bytes, a witness has at least 12", len(data))
	}
	if len(data) > maxPublicBytes {
		return nil, fmt.Errorf("%d bytes: larger than any public witness this accepts (%d)", len(data), maxPublicBytes)
	}
	nbPub := binary.BigEndian.Uint32(data[0:])
	nbSec := binary.BigEndian.Uint32(data[4:])
	n := binary.BigEndian.Uint32(data[8:])
	if uint64(nbPub)+uint64(nbSec) != uint64(n) {
		return nil, fmt.Errorf("corrupt: header says %d public + %d secret values but holds %d", nbPub, nbSec, n)
	}
	if want := 12 + 32*uint64(n); uint64(len(data)) != want {
		hint := ""
		if uint64(len(data)) == 12+48*uint64(n) {
			hint = " (it fits bw6-761's 48-byte values: a witness of the wrong curve?)"
		}
		return nil, fmt.Errorf("%d values of 32 bytes take %d bytes, the witness has %d%s", n, want, len(data), hint)
	}
	if nbSec != 0 {
		return nil, fmt.Errorf("has %d secret values: want a public witness (proofd prove --public), not a full one", nbSec)
	}
	for i := 0; i < int(n); i++ {
		if off := 12 + 32*i; !reduced(data[off : off+32]) {
			return nil, fmt.Errorf("value %d is not reduced modulo the bn254 scalar field (a witness of the wrong curve?)", i)
		}
	}
	w, err := witness.New(bn254R)
	if err != nil {
		return nil, err
	}
	if err := w.UnmarshalBinary(data); err != nil {
		return nil, fmt.Errorf("corrupt: %v", err)
	}
	return w, nil
}

// Call is calldata for a gnark-exported verifier contract.
type Call struct {
	Scheme    string
	Signature string // the function it calls, e.g. verifyProof(bytes,uint256[1])
	NbPublic  int
	Data      []byte // selector and ABI-encoded arguments
}

// Options change what Calldata accepts.
type Options struct {
	// SolidityTarget says the proof was made for the Solidity target
	// (proofd prove --target solidity), so Groth16 proofs with commitments
	// are encoded instead of refused with ErrCommitments. The bytes cannot
	// tell: a proof made for another target encodes alike and the contract
	// rejects it.
	SolidityTarget bool
}

// Calldata decodes a proof and a public witness as proofd prove writes them
// and encodes the call that verifies them on gnark's exported Solidity
// verifier for their scheme. vk, if not nil, is the verifying key the
// contract was exported from: the proof's scheme and the witness's size are
// checked against it. Errors are *InputError naming the bad input. Groth16
// proofs with commitments are refused (ErrCommitments); see CalldataWith.
func Calldata(proof, public, vk []byte) (*Call, error) {
	return CalldataWith(proof, public, vk, Options{})
}

// CalldataWith is Calldata with options.
func CalldataWith(proof, public, vk []byte, opt Options) (*Call, error) {
	p, err := DecodeProof(proof)
	if err != nil {
		return nil, &InputError{"proof", err}
	}
	w, err := DecodePublic(public)
	if err != nil {
		return nil, &InputError{"public", err}
	}
	n := int(binary.BigEndian.Uint32(public)) // checked by DecodePublic
	if vk != nil {
		k, err := DecodeVK(vk)
		if err != nil {
			return nil, &InputError{"vk", err}
		}
		if k.Scheme != p.Scheme {
			return nil, &InputError{"proof", fmt.Errorf("a %s proof, but the verifying key is for %s", p.Scheme, k.Scheme)}
		}
		if k.Scheme == Groth16 && k.Commitments > 0 && !opt.SolidityTarget {
			return nil, &InputError{"vk", ErrCommitments}
		}
		if k.NbPublic != n {
			return nil, &InputError{"public", fmt.Errorf("has %d public values, the verifying key expects %d (a witness of another circuit?)", n, k.NbPublic)}
		}
	}
	c := &Call{Scheme: p.Scheme, NbPublic: n}
	if p.Scheme == Groth16 {
		c.Signature = Groth16Signature(n)
		c.Data, err = groth16Calldata(p.Groth16, w, opt.SolidityTarget)
	} else {
		c.Signature = PlonkSignature
		c.Data, err = PlonkCalldata(p.Plonk, w)
	}
	if err != nil {
		return nil, &InputError{"proof", err}
	}
	return c, nil
}
