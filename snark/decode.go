package snark

import (
	"encoding/binary"
	"fmt"
	"math/big"
	"strings"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/backend/groth16"
	groth16bls12377 "github.com/consensys/gnark/backend/groth16/bls12-377"
	groth16bn254 "github.com/consensys/gnark/backend/groth16/bn254"
	groth16bw6761 "github.com/consensys/gnark/backend/groth16/bw6-761"
	"github.com/consensys/gnark/backend/plonk"
	"github.com/consensys/gnark/backend/witness"
	"github.com/consensys/gnark/constraint"
	"github.com/fxamacker/cbor/v2"
	"github.com/proofd/proofd/internal/gnarkio"
)

// Curves the engine proves on.
var Curves = []ecc.ID{ecc.BN254, ecc.BLS12_377, ecc.BW6_761}

// ParseCurve accepts "bn254", "bls12-377", "bls12_377", "bw6-761", ...
func ParseCurve(s string) (ecc.ID, error) {
	norm := strings.ReplaceAll(strings.ToLower(s), "-", "_")
	for _, c := range Curves {
		if c.String() == norm {
			return c, nil
		}
	}
	return ecc.UNKNOWN, fmt.Errorf("curve %q: want one of bn254, bls12-377, bw6-761", s)
}

// CurveName is the curve's name as the CLI prints it.
func CurveName(c ecc.ID) string { return strings.ReplaceAll(c.String(), "_", "-") }

// circuit is a decoded constraint system.
type circuit struct {
	cs     constraint.ConstraintSystem
	curve  ecc.ID
	scheme string // "groth16" for R1CS, "plonk" for SparseR1CS
	gnark  string // version that wrote it
}

// ccsHeader is the part of gnark's CBOR-encoded system body we need to pick a
// decoder; the other fields are skipped.
type ccsHeader struct {
	GnarkVersion string
	ScalarField  string
	Type         constraint.SystemType
}

// headerDecMode reads the system body's header fields. The body also holds
// arrays of one element per constraint or wire, which the header decode
// skips; cbor's default limit of 131072 elements would refuse any circuit
// past that size (the evm profile's wrapper has millions), so the limits
// are gnark's own (constraint/marshal.go), which decodes the same bytes
// next. Skipping allocates nothing, and the body is already in memory.
var headerDecMode = func() cbor.DecMode {
	dm, err := cbor.DecOptions{MaxArrayElements: 2147483647, MaxMapPairs: 2147483647}.DecMode()
	if err != nil {
		panic(err) // constant options
	}
	return dm
}()

// decodeCCS reads gnark's constraint system encoding:
//
//	u64le system length L | u64le major | u64le minor | u64le patch
//	system (L bytes): u64le levels, instructions, calldata, body lengths | sections
//	coefficient table (the rest)
func decodeCCS(data []byte) (*circuit, error) {
	const outer, inner = 32, 32
	if len(data) < outer+inner {
		return nil, fmt.Errorf("truncated: %d bytes, a gnark constraint system has at least %d", len(data), outer+inner)
	}
	sysLen := binary.LittleEndian.Uint64(data[0:])
	major, minor := binary.LittleEndian.Uint64(data[8:]), binary.LittleEndian.Uint64(data[16:])
	if major != 0 || minor < 10 || minor > 1000 {
		return nil, fmt.Errorf("not a gnark constraint system (header says gnark %d.%d)", major, minor)
	}
	if sysLen < inner || sysLen > uint64(len(data)-outer) {
		return nil, fmt.Errorf("truncated or corrupt: header declares a %d-byte system, %d bytes follow", sysLen, len(data)-outer)
	}
	sys := data[outer : outer+sysLen]
	var lens [4]uint64
	var sum uint64 = inner
	for i := range lens {
		lens[i] = binary.LittleEndian.Uint64(sys[8*i:])
		if lens[i] > sysLen {
			return nil, fmt.Errorf("corrupt: section %d declares %d bytes, the system has %d", i, lens[i], sysLen)
		}
		sum += lens[i]
	}
	if sum > sysLen {
		return nil, fmt.Errorf("corrupt: sections total %d bytes, the system has %d", sum, sysLen)
	}
	// gnark decodes the first three sections in goroutines of its own, where
	// a panic cannot be recovered: check them here first.
	off := uint64(inner)
	sections := [3][]byte{}
	for i := range sections {
		sections[i] = sys[off : off+lens[i]]
		off += lens[i]
	}
	if err := checkLevels(sections[0]); err != nil {
		return nil, fmt.Errorf("corrupt levels section: %v", err)
	}
	if err := checkInstructions(sections[1]); err != nil {
		return nil, fmt.Errorf("corrupt instructions section: %v", err)
	}
	if err := checkCalldata(sections[2]); err != nil {
		return nil, fmt.Errorf("corrupt calldata section: %v", err)
	}
	body := sys[sum-lens[3] : sum]
	var h ccsHeader
	if err := headerDecMode.Unmarshal(body, &h); err != nil {
		return nil, fmt.Errorf("corrupt system body: %v", err)
	}
	curve, err := curveOfField(h.ScalarField)
	if err != nil {
		return nil, err
	}
	c := &circuit{curve: curve, gnark: h.GnarkVersion}
	switch h.Type {
	case constraint.SystemR1CS:
		c.scheme, c.cs = "groth16", groth16.NewCS(curve)
	case constraint.SystemSparseR1CS:
		c.scheme, c.cs = "plonk", plonk.NewCS(curve)
	default:
		return nil, fmt.Errorf("unknown constraint system type %d", h.Type)
	}
	if err := gnarkio.ReadAll(c.cs, data); err != nil {
		return nil, err
	}
	return c, nil
}

// nbPublic is the number of public inputs a witness carries. gnark's R1CS
// counts the constant-one wire among its public variables; SparseR1CS does not.
func (c *circuit) nbPublic() int {
	if c.scheme == "groth16" {
		return c.cs.GetNbPublicVariables() - 1
	}
	return c.cs.GetNbPublicVariables()
}

func curveOfField(hex string) (ecc.ID, error) {
	for _, c := range Curves {
		if c.ScalarField().Text(16) == hex {
			return c, nil
		}
	}
	if len(hex) > 80 {
		hex = hex[:80] + "…"
	}
	return ecc.UNKNOWN, fmt.Errorf("scalar field %q is not one of bn254, bls12-377, bw6-761", hex)
}

// decodeWitness reads gnark's witness encoding for curve:
//
//	u32be nbPublic | u32be nbSecret | u32be n | n field elements, big-endian
//
// and checks its shape against what the circuit expects (wantPublic,
// wantSecret; wantSecret < 0 means a public witness with no secret part).
func decodeWitness(data []byte, curve ecc.ID, wantPublic, wantSecret int) (witness.Witness, error) {
	if len(data) < 12 {
		return nil, fmt.Errorf("truncated: %d bytes, a witness has at least 12", len(data))
	}
	nbPub := binary.BigEndian.Uint32(data[0:])
	nbSec := binary.BigEndian.Uint32(data[4:])
	n := binary.BigEndian.Uint32(data[8:])
	elem := (curve.ScalarField().BitLen() + 7) / 8
	if uint64(nbPub)+uint64(nbSec) != uint64(n) {
		return nil, fmt.Errorf("corrupt: header says %d public + %d secret values but holds %d", nbPub, nbSec, n)
	}
	if want := 12 + uint64(n)*uint64(elem); uint64(len(data)) != want {
		hint := ""
		for _, other := range Curves {
			o := (other.ScalarField().BitLen() + 7) / 8
			if other != curve && o != elem && uint64(len(data)) == 12+uint64(n)*uint64(o) {
				hint = fmt.Sprintf(" (it fits %s, a witness of the wrong curve?)", CurveName(other))
			}
		}
		return nil, fmt.Errorf("%d values of %d bytes for %s take %d bytes, the witness has %d%s",
			n, elem, CurveName(curve), want, len(data), hint)
	}
	if int(nbPub) != wantPublic {
		return nil, fmt.Errorf("has %d public values, the circuit expects %d (a witness of another circuit?)", nbPub, wantPublic)
	}
	if wantSecret >= 0 && int(nbSec) != wantSecret {
		return nil, fmt.Errorf("has %d secret values, the circuit expects %d (a witness of another circuit, or a public witness?)", nbSec, wantSecret)
	}
	if wantSecret < 0 && nbSec != 0 {
		return nil, fmt.Errorf("has %d secret values: a public witness has none", nbSec)
	}
	modulus := curve.ScalarField()
	v := new(big.Int)
	for i := 0; i < int(n); i++ {
		off := 12 + i*elem
		if v.SetBytes(data[off:off+elem]).Cmp(modulus) >= 0 {
			return nil, fmt.Errorf("value %d is not reduced modulo the %s scalar field (a witness of the wrong curve?)", i, CurveName(curve))
		}
	}
	w, err := witness.New(modulus)
	if err != nil {
		return nil, err
	}
	if err := w.UnmarshalBinary(data); err != nil {
		return nil, fmt.Errorf("corrupt: %v", err)
	}
	return w, nil
}

// verifier is a decoded verifying key with what the engine needs to know about it.
type verifier struct {
	curve    ecc.ID
	scheme   string
	groth16  groth16.VerifyingKey
	plonk    plonk.VerifyingKey
	nbPublic int
}

// decodeVK finds the scheme and curve of a verifying key by decoding it with
// each candidate, with full point checks.
func decodeVK(data []byte) (*verifier, error) {
	if len(data) > maxVKBytes {
		return nil, fmt.Errorf("%d bytes: larger than any verifying key this engine accepts (%d)", len(data), maxVKBytes)
	}
	var firstErr error
	for _, scheme := range []string{"groth16", "plonk"} {
		for _, curve := range Curves {
			v := &verifier{curve: curve, scheme: scheme}
			var err error
			if scheme == "groth16" {
				v.groth16 = groth16.NewVerifyingKey(curve)
				if err = gnarkio.ReadAll(v.groth16, data); err == nil {
					v.nbPublic = groth16NbPublic(v.groth16)
				}
			} else {
				v.plonk = plonk.NewVerifyingKey(curve)
				if err = gnarkio.ReadAll(v.plonk, data); err == nil {
					v.nbPublic, err = plonkNbPublic(v.plonk)
				}
			}
			if err == nil {
				return v, nil
			}
			if firstErr == nil {
				firstErr = err
			}
		}
	}
	return nil, fmt.Errorf("not a Groth16 or PLONK verifying key for bn254, bls12-377 or bw6-761 (as a bn254 Groth16 key: %v)", firstErr)
}

// Caps on untrusted sizes, far above real keys and proofs: a 4 MiB Groth16
// key has ~130k public inputs; proofs are under 2 KiB.
const (
	maxVKBytes    = 4 << 20
	maxProofBytes = 64 << 10
)

// decodeProof reads a proof made for v's curve and scheme.
func decodeProof(data []byte, v *verifier) (any, error) {
	if len(data) > maxProofBytes {
		return nil, fmt.Errorf("%d bytes: larger than any proof (%d)", len(data), maxProofBytes)
	}
	if v.scheme == "groth16" {
		p := groth16.NewProof(v.curve)
		if err := gnarkio.ReadAll(p, data); err != nil {
			return nil, fmt.Errorf("not a %s Groth16 proof: %v", CurveName(v.curve), err)
		}
		return p, nil
	}
	p := plonk.NewProof(v.curve)
	if err := gnarkio.ReadAll(p, data); err != nil {
		return nil, fmt.Errorf("not a %s PLONK proof: %v", CurveName(v.curve), err)
	}
	return p, nil
}

// groth16NbPublic is the number of public inputs a Groth16 key's proofs
// take. gnark's NbPublicWitness counts len(K)-1, and K also holds one point
// per commitment (its hash is a public input the verifier computes), so for
// a circuit with commitments it overcounts.
func groth16NbPublic(vk groth16.VerifyingKey) int {
	n := vk.NbPublicWitness()
	switch k := vk.(type) {
	case *groth16bn254.VerifyingKey:
		n -= len(k.PublicAndCommitmentCommitted)
	case *groth16bls12377.VerifyingKey:
		n -= len(k.PublicAndCommitmentCommitted)
	case *groth16bw6761.VerifyingKey:
		n -= len(k.PublicAndCommitmentCommitted)
	}
	return n
}
