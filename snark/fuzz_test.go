package snark

import (
	"bytes"
	"testing"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/backend/groth16"
	"github.com/consensys/gnark/backend/plonk"
	"github.com/consensys/gnark/test/unsafekzg"

	"github.com/proofd/proofd/examples/circuits"
)

// seeds are valid encodings of each kind, for the fuzzers to mutate.
type seeds struct {
	ccs, wit, pub, vk, proof, plonkVK, srs []byte
}

func makeSeeds(tb testing.TB) seeds {
	tb.Helper()
	ex, err := circuits.Build("mimc", 2, ecc.BN254, "groth16")
	if err != nil {
		tb.Fatal(err)
	}
	var s seeds
	var buf bytes.Buffer
	ex.CCS.WriteTo(&buf)
	s.ccs = bytes.Clone(buf.Bytes())
	s.wit, _ = ex.Witness.MarshalBinary()
	s.pub, _ = ex.Public.MarshalBinary()
	pk, vk, err := groth16.Setup(ex.CCS)
	if err != nil {
		tb.Fatal(err)
	}
	buf.Reset()
	vk.WriteTo(&buf)
	s.vk = bytes.Clone(buf.Bytes())
	proof, err := groth16.Prove(ex.CCS, pk, ex.Witness)
	if err != nil {
		tb.Fatal(err)
	}
	buf.Reset()
	proof.WriteTo(&buf)
	s.proof = bytes.Clone(buf.Bytes())

	pex, err := circuits.Build("mimc", 1, ecc.BN254, "plonk")
	if err != nil {
		tb.Fatal(err)
	}
	canon, lag, err := unsafekzg.NewSRS(pex.CCS, unsafekzg.WithToxicSeed([]byte(DevSRSSeed)))
	if err != nil {
		tb.Fatal(err)
	}
	_, pvk, err := plonk.Setup(pex.CCS, canon, lag)
	if err != nil {
		tb.Fatal(err)
	}
	buf.Reset()
	pvk.WriteTo(&buf)
	s.plonkVK = bytes.Clone(buf.Bytes())
	buf.Reset()
	canon.WriteTo(&buf)
	s.srs = bytes.Clone(buf.Bytes())
	return s
}

func addTruncations(f *testing.F, b []byte) {
	f.Add(b)
	for _, n := range []int{0, 1, 7, 12, 31, 32, 33, 64, len(b) / 2, len(b) - 1} {
		if n >= 0 && n <= len(b) {
			f.Add(bytes.Clone(b[:n]))
		}
	}
}

func FuzzDecodeCCS(f *testing.F) {
	addTruncations(f, makeSeeds(f).ccs)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := decodeCCS(data)
		if err == nil && c.cs == nil {
			t.Fatal("no error and no constraint system")
		}
	})
}

func FuzzDecodeWitness(f *testing.F) {
	s := makeSeeds(f)
	addTruncations(f, s.wit)
	addTruncations(f, s.pub)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, curve := range Curves {
			decodeWitness(data, curve, 1, 1)
			decodeWitness(data, curve, 1, -1)
		}
	})
}

func FuzzDecodeVK(f *testing.F) {
	s := makeSeeds(f)
	addTruncations(f, s.vk)
	addTruncations(f, s.plonkVK)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		v, err := decodeVK(data)
		if err == nil && v.nbPublic < 0 {
			t.Fatal("negative public input count")
		}
	})
}

func FuzzDecodeProof(f *testing.F) {
	s := makeSeeds(f)
	addTruncations(f, s.proof)
	g16, err := decodeVK(s.vk)
	if err != nil {
		f.Fatal(err)
	}
	pl, err := decodeVK(s.plonkVK)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		decodeProof(data, g16)
		decodeProof(data, pl)
	})
}

func FuzzDecodeSRS(f *testing.F) {
	addTruncations(f, makeSeeds(f).srs)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		decodeSRS(data, ecc.BN254, 8)
	})
}
