package rollup

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/backend/groth16"
)

// Layout of a Groth16 proof as gnark's proof.WriteTo writes it (compressed
// points): Ar G1 | Bs G2 | Krs G1 | n u32 | n × commitment G1 | CommitmentPok G1.
// Only the sizes matter here: they let us check the commitment count against
// the input's length before gnark's decoder allocates n points.
const maxProofCommitments = 16

type proofLayout struct{ g1, g2 int }

var proofLayouts = map[ecc.ID]proofLayout{
	ecc.BLS12_377: {48, 96},
	ecc.BW6_761:   {96, 96},
	ecc.BN254:     {32, 64},
}

// decodeProof parses a Groth16 proof on curve in gnark's compressed binary
// form. It is strict (the proof must re-encode to exactly b) and bounded
// (at most maxProofCommitments commitments, checked before decoding).
func decodeProof(curve ecc.ID, b []byte) (groth16.Proof, error) {
	l, ok := proofLayouts[curve]
	if !ok {
		return nil, fmt.Errorf("no proof layout for curve %s", curve)
	}
	head := 2*l.g1 + l.g2
	if len(b) < head+4 {
		return nil, fmt.Errorf("%d bytes, too short for a %s proof", len(b), curve)
	}
	n := binary.BigEndian.Uint32(b[head:])
	if n > maxProofCommitments {
		return nil, fmt.Errorf("%d commitments, at most %d", n, maxProofCommitments)
	}
	if want := head + 4 + int(n)*l.g1 + l.g1; len(b) != want {
		return nil, fmt.Errorf("%d bytes, want %d for a %s proof with %d commitments", len(b), want, curve, n)
	}
	proof := groth16.NewProof(curve)
	if _, err := proof.ReadFrom(bytes.NewReader(b)); err != nil {
		return nil, fmt.Errorf("decode %s proof: %w", curve, err)
	}
	var re bytes.Buffer
	if _, err := proof.WriteTo(&re); err != nil || !bytes.Equal(re.Bytes(), b) {
		return nil, fmt.Errorf("%s proof is not in gnark's canonical compressed form", curve)
	}
	return proof, nil
}
