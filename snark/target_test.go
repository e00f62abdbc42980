package snark_test

import (
	"bytes"
	"testing"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/frontend/cs/r1cs"
	"github.com/consensys/gnark/std/rangecheck"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/proofd/proofd/artifact"
	"github.com/proofd/proofd/engine/snarkclient"
	"github.com/proofd/proofd/proto/enginev1"
)

// committed range-checks X through gnark's rangecheck gadget, which commits
// (api.Commit), so its Groth16 proofs carry a Pedersen commitment whose
// hash-to-field depends on the proof target.
type committed struct {
	X frontend.Variable
	Y frontend.Variable `gnark:",public"`
}

func (c *committed) Define(api frontend.API) error {
	rangecheck.New(api).Check(c.X, 16)
	api.AssertIsEqual(api.Mul(c.X, 3), c.Y)
	return nil
}

func buildCommitted(t *testing.T, curve ecc.ID) fixture {
	t.Helper()
	cs, err := frontend.Compile(curve.ScalarField(), r1cs.NewBuilder, &committed{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := cs.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	w, err := frontend.NewWitness(&committed{X: 1234, Y: 3702}, curve.ScalarField())
	if err != nil {
		t.Fatal(err)
	}
	wit, err := w.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return fixture{ccs: artifact.New(buf.Bytes()), wit: wit}
}

// TestProofTargets: a proof of a circuit with commitments verifies for the
// target it was made for and for no other.
func TestProofTargets(t *testing.T) {
	c := open(t)
	fx := buildCommitted(t, ecc.BN254)
	keys, err := snarkclient.New(c).Setup(ctx(t), snarkclient.SetupRequest{CCS: fx.ccs, Scheme: snarkclient.Groth16})
	if err != nil {
		t.Fatal(err)
	}
	targets := []string{snarkclient.TargetNative, snarkclient.TargetSolidity, snarkclient.TargetBN254, snarkclient.TargetBW6761}
	proofs := map[string]*snarkclient.ProveResult{}
	for _, target := range targets {
		p, err := snarkclient.New(c).Prove(ctx(t), snarkclient.ProveRequest{CCS: fx.ccs, PK: keys.PK, Witness: fx.wit, Target: target})
		if err != nil {
			t.Fatalf("prove for %q: %v", target, err)
		}
		proofs[target] = p
	}
	for _, made := range targets {
		for _, checked := range targets {
			p := proofs[made]
			res, err := snarkclient.New(c).Verify(ctx(t), snarkclient.VerifyRequest{VK: keys.VK, Proof: p.Proof, Public: p.Public, Target: checked})
			if err != nil {
				t.Fatalf("verify %q proof for %q: %v", made, checked, err)
			}
			if res.Valid != (made == checked) {
				t.Errorf("proof made for %q, verified for %q: valid %v (%s)", made, checked, res.Valid, res.Reason)
			}
		}
	}
	// "native" is the empty target's other spelling.
	p := proofs[snarkclient.TargetNative]
	if res, err := snarkclient.New(c).Verify(ctx(t), snarkclient.VerifyRequest{VK: keys.VK, Proof: p.Proof, Public: p.Public, Target: "native"}); err != nil || !res.Valid {
		t.Errorf("native proof for target \"native\": %v %+v", err, res)
	}
}

// TestBadTargets: a target that does not fit the scheme or curve is a
// BadInput naming "target", before any proving work; so is one the
// protocol does not know.
func TestBadTargets(t *testing.T) {
	c := open(t)
	bls := build(t, "mimc", 2, ecc.BLS12_377, snarkclient.Groth16)
	blsKeys, err := snarkclient.New(c).Setup(ctx(t), snarkclient.SetupRequest{CCS: bls.ccs, Scheme: snarkclient.Groth16})
	if err != nil {
		t.Fatal(err)
	}
	plonk := build(t, "mimc", 2, ecc.BN254, snarkclient.Plonk)
	plonkKeys, err := snarkclient.New(c).Setup(ctx(t), snarkclient.SetupRequest{CCS: plonk.ccs, Scheme: snarkclient.Plonk, DevSRS: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, target, mention string
		fx                    fixture
		pk, vk                artifact.Artifact
	}{
		{"solidity for bls12-377", snarkclient.TargetSolidity, "bn254 keys only", bls, blsKeys.PK, blsKeys.VK},
		{"bls12-377 inside bn254", snarkclient.TargetBN254, "bls12-377", bls, blsKeys.PK, blsKeys.VK},
		{"plonk inside bw6-761", snarkclient.TargetBW6761, "Groth16", plonk, plonkKeys.PK, plonkKeys.VK},
		{"unknown name", "ethereum", "want native", bls, blsKeys.PK, blsKeys.VK},
	} {
		_, err := snarkclient.New(c).Prove(ctx(t), snarkclient.ProveRequest{CCS: tc.fx.ccs, PK: tc.pk, Witness: tc.fx.wit, Target: tc.target})
		wantInput(t, err, "target", tc.mention)
		_, err = snarkclient.New(c).Verify(ctx(t), snarkclient.VerifyRequest{VK: tc.vk, Proof: []byte{1}, Public: tc.fx.public, Target: tc.target})
		wantInput(t, err, "target", tc.mention)
	}
	// PLONK for Solidity is gnark's no-op option: it proves and verifies.
	p, err := snarkclient.New(c).Prove(ctx(t), snarkclient.ProveRequest{CCS: plonk.ccs, PK: plonkKeys.PK, Witness: plonk.wit, Target: snarkclient.TargetSolidity})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := snarkclient.New(c).Verify(ctx(t), snarkclient.VerifyRequest{VK: plonkKeys.VK, Proof: p.Proof, Public: p.Public, Target: snarkclient.TargetSolidity}); err != nil || !res.Valid {
		t.Fatalf("plonk proof for solidity: %v %+v", err, res)
	}
	// A target number the engine does not know, straight over the wire
	// (the vk is resident since setup).
	_, err = enginev1.NewSnarkClient(c.Raw()).Verify(ctx(t), &enginev1.VerifyRequest{Vk: blsKeys.VK.Digest[:], Proof: []byte{1}, PublicWitness: bls.public, Target: 99})
	if st, _ := status.FromError(err); st.Code() != codes.InvalidArgument || !bytes.Contains([]byte(st.Message()), []byte("target: unknown proof target 99")) {
		t.Fatalf("target 99: %v", err)
	}
}
