package evm_test

import (
	"bytes"
	"errors"
	"io"
	"math/big"
	"strings"
	"testing"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/backend"
	"github.com/consensys/gnark/backend/groth16"
	"github.com/consensys/gnark/backend/plonk"
	"github.com/consensys/gnark/backend/solidity"
	"github.com/consensys/gnark/backend/witness"
	"github.com/consensys/gnark/constraint"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/frontend/cs/r1cs"
	"github.com/consensys/gnark/frontend/cs/scs"
	"github.com/consensys/gnark/std/rangecheck"
	"github.com/consensys/gnark/test/unsafekzg"

	"github.com/proofd/proofd/evm"
	"github.com/proofd/proofd/evm/evmtest"
)

// cubic: the prover knows X with X³ + X + 5 = Y and X·Y = Z. Two public
// inputs, so the encoding of more than one input is exercised.
type cubic struct {
	X frontend.Variable
	Y frontend.Variable `gnark:",public"`
	Z frontend.Variable `gnark:",public"`
}

func (c *cubic) Define(api frontend.API) error {
	x3 := api.Mul(c.X, c.X, c.X)
	api.AssertIsEqual(c.Y, api.Add(x3, c.X, 5))
	api.AssertIsEqual(c.Z, api.Mul(c.X, c.Y))
	return nil
}

// cubicWitness for X = 3: Y = 35, Z = 105.
func cubicWitness(t testing.TB, curve ecc.ID) (full, public witness.Witness) {
	t.Helper()
	full, err := frontend.NewWitness(&cubic{X: 3, Y: 35, Z: 105}, curve.ScalarField())
	if err != nil {
		t.Fatal(err)
	}
	public, err = full.Public()
	if err != nil {
		t.Fatal(err)
	}
	return full, public
}

func compileCS(t testing.TB, curve ecc.ID, builder frontend.NewBuilder) constraint.ConstraintSystem {
	t.Helper()
	cs, err := frontend.Compile(curve.ScalarField(), builder, &cubic{})
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

type groth16Fixture struct {
	vk     groth16.VerifyingKey
	proof  groth16.Proof
	full   witness.Witness
	public witness.Witness
}

func newGroth16(t testing.TB, curve ecc.ID) *groth16Fixture {
	t.Helper()
	cs := compileCS(t, curve, r1cs.NewBuilder)
	pk, vk, err := groth16.Setup(cs)
	if err != nil {
		t.Fatal(err)
	}
	full, public := cubicWitness(t, curve)
	proof, err := groth16.Prove(cs, pk, full)
	if err != nil {
		t.Fatal(err)
	}
	if err := groth16.Verify(proof, vk, public); err != nil {
		t.Fatalf("gnark rejects its own proof: %v", err)
	}
	return &groth16Fixture{vk: vk, proof: proof, full: full, public: public}
}

// deployGroth16 exports vk's Solidity verifier as the engine does, compiles
// it with solc and deploys it.
func deployGroth16(t testing.TB, vk groth16.VerifyingKey) (*evmtest.Chain, *evmtest.Contract, [20]byte) {
	t.Helper()
	var src bytes.Buffer
	if err := vk.ExportSolidity(&src); err != nil {
		t.Fatal(err)
	}
	c := evmtest.Compile(t, src.String(), "Verifier")
	chain := evmtest.NewChain(t)
	return chain, c, chain.Deploy(t, c.Bytecode)
}

// TestGroth16OnChain is the acceptance test: gnark's exported Groth16
// verifier, compiled by the real solc and run in go-ethereum's EVM, accepts
// the calldata evm.Groth16Calldata makes for a valid proof and rejects it
// with any proof word's byte flipped, with a negated point, or with a public
// input changed.
func TestGroth16OnChain(t *testing.T) {
	evmtest.Solc(t) // skip (or fail, in CI) before the proving work
	f := newGroth16(t, ecc.BN254)
	chain, c, addr := deployGroth16(t, f.vk)

	data, err := evm.Groth16Calldata(f.proof, f.public)
	if err != nil {
		t.Fatal(err)
	}
	// Our encoding is go-ethereum's ABI encoding of the contract's own ABI.
	sol := f.proof.(interface{ MarshalSolidity() []byte }).MarshalSolidity()
	want, err := c.ABI.Pack("verifyProof", sol, [2]*big.Int{big.NewInt(35), big.NewInt(105)})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, want) {
		t.Fatalf("calldata differs from abi.Pack:\n got %x\nwant %x", data, want)
	}
	if sel := evm.Selector(evm.Groth16Signature(2)); !bytes.Equal(data[:4], sel[:]) || !bytes.Equal(sel[:], c.ABI.Methods["verifyProof"].ID) {
		t.Fatalf("selector %x, contract's verifyProof is %x", data[:4], c.ABI.Methods["verifyProof"].ID)
	}

	res := chain.Call(addr, data)
	if res.Err != nil {
		t.Fatalf("valid proof rejected: %v (%s)", res.Err, evmtest.RevertName(c.ABI, res.Return))
	}
	t.Logf("groth16 verifyProof, 2 public inputs: %d gas execution + %d intrinsic (%d calldata bytes) = %d",
		res.GasUsed, evmtest.IntrinsicGas(data), len(data), res.GasUsed+evmtest.IntrinsicGas(data))

	reject := func(what string, bad []byte, wantErr string) {
		t.Helper()
		r := chain.Call(addr, bad)
		if !r.Reverted() {
			t.Errorf("%s: accepted (err %v)", what, r.Err)
			return
		}
		if got := evmtest.RevertName(c.ABI, r.Return); wantErr != "" && got != wantErr {
			t.Errorf("%s: reverted with %s, want %s", what, got, wantErr)
		}
	}
	proofAt := 4 + 32*3 + 32 // selector, offset, 2 inputs, length
	for w := range 8 {
		bad := bytes.Clone(data)
		bad[proofAt+32*w+31] ^= 0x01
		reject("proof word "+string(rune('0'+w))+" flipped", bad, "ProofInvalid")
	}
	// -A is on the curve, so this reaches the pairing check itself.
	negA := bytes.Clone(data)
	y := new(big.Int).SetBytes(negA[proofAt+32 : proofAt+64])
	y.Sub(ecc.BN254.BaseField(), y)
	copy(negA[proofAt+32:proofAt+64], evmtest.Word(y))
	reject("A negated", negA, "ProofInvalid")

	inputAt := 4 + 32
	for i := range 2 {
		bad := bytes.Clone(data)
		bad[inputAt+32*i+31] ^= 0x01
		reject("public input changed", bad, "ProofInvalid")
	}
	unreduced := bytes.Clone(data)
	copy(unreduced[inputAt:], evmtest.Word(ecc.BN254.ScalarField()))
	reject("public input not reduced", unreduced, "PublicInputNotInField")

	if _, err := evm.Groth16Calldata(f.proof, f.full); err == nil || !strings.Contains(err.Error(), "secret") {
		t.Errorf("full witness: err %v, want one about secret values", err)
	}
}

// TestCalldataFromFiles: the bytes proofd prove writes (gnark's WriteTo and
// MarshalBinary) give the same calldata as the typed API, and the vk check
// catches a witness of another size.
func TestCalldataFromFiles(t *testing.T) {
	f := newGroth16(t, ecc.BN254)
	proof, public, vk := encode(t, f.proof), marshal(t, f.public), encode(t, f.vk)
	want, err := evm.Groth16Calldata(f.proof, f.public)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range [][]byte{nil, vk} {
		call, err := evm.Calldata(proof, public, k)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(call.Data, want) || call.Scheme != evm.Groth16 || call.Signature != "verifyProof(bytes,uint256[2])" || call.NbPublic != 2 {
			t.Fatalf("Calldata = %+v", call)
		}
	}

	short := bytes.Clone(public[:12+32])
	short[3], short[11] = 1, 1 // one public value
	wrongCurve := encode(t, newGroth16(t, ecc.BLS12_377).proof)
	cases := []struct {
		name               string
		proof, public, vk  []byte
		input, errContains string
	}{
		{"garbage proof", []byte("not a proof at all"), public, nil, "proof", "not a bn254 Groth16 or PLONK proof"},
		{"empty proof", nil, public, nil, "proof", "not a bn254"},
		{"bls12-377 proof", wrongCurve, public, nil, "proof", "bls12-377 Groth16 proof"},
		{"full witness", proof, marshal(t, f.full), nil, "public", "secret"},
		{"truncated witness", proof, public[:20], nil, "public", "the witness has 20"},
		{"witness size vs vk", proof, short, vk, "public", "the verifying key expects 2"},
		{"garbage vk", proof, public, []byte("nope"), "vk", "not a bn254 Groth16 or PLONK verifying key"},
	}
	for _, tc := range cases {
		_, err := evm.Calldata(tc.proof, tc.public, tc.vk)
		ie, ok := err.(*evm.InputError)
		if !ok || ie.Input != tc.input || !strings.Contains(err.Error(), tc.errContains) {
			t.Errorf("%s: err %v, want an InputError for %s mentioning %q", tc.name, err, tc.input, tc.errContains)
		}
	}
}

// TestPlonkOnChain: the same for gnark's exported PLONK verifier, whose
// Verify returns a bool.
func TestPlonkOnChain(t *testing.T) {
	evmtest.Solc(t)
	cs := compileCS(t, ecc.BN254, scs.NewBuilder)
	canon, lag, err := unsafekzg.NewSRS(cs)
	if err != nil {
		t.Fatal(err)
	}
	pk, vk, err := plonk.Setup(cs, canon, lag)
	if err != nil {
		t.Fatal(err)
	}
	full, public := cubicWitness(t, ecc.BN254)
	proof, err := plonk.Prove(cs, pk, full)
	if err != nil {
		t.Fatal(err)
	}
	if err := plonk.Verify(proof, vk, public); err != nil {
		t.Fatal(err)
	}
	var src bytes.Buffer
	if err := vk.ExportSolidity(&src); err != nil {
		t.Fatal(err)
	}
	c := evmtest.Compile(t, src.String(), "PlonkVerifier")
	chain := evmtest.NewChain(t)
	addr := chain.Deploy(t, c.Bytecode)

	data, err := evm.PlonkCalldata(proof, public)
	if err != nil {
		t.Fatal(err)
	}
	sol := proof.(interface{ MarshalSolidity() []byte }).MarshalSolidity()
	want, err := c.ABI.Pack("Verify", sol, []*big.Int{big.NewInt(35), big.NewInt(105)})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, want) {
		t.Fatalf("calldata differs from abi.Pack:\n got %x\nwant %x", data, want)
	}
	call, err := evm.Calldata(encode(t, proof), marshal(t, public), encode(t, vk))
	if err != nil || !bytes.Equal(call.Data, data) || call.Scheme != evm.Plonk {
		t.Fatalf("Calldata from files: %+v, %v", call, err)
	}

	verified := func(d []byte) (bool, evmtest.Result) {
		r := chain.Call(addr, d)
		if r.Err != nil {
			return false, r
		}
		out, err := c.ABI.Unpack("Verify", r.Return)
		if err != nil {
			t.Fatalf("Verify returned %x: %v", r.Return, err)
		}
		return out[0].(bool), r
	}
	ok, res := verified(data)
	if !ok {
		t.Fatalf("valid proof rejected: %v (%s)", res.Err, evmtest.RevertName(c.ABI, res.Return))
	}
	t.Logf("plonk Verify, 2 public inputs: %d gas execution + %d intrinsic (%d calldata bytes) = %d",
		res.GasUsed, evmtest.IntrinsicGas(data), len(data), res.GasUsed+evmtest.IntrinsicGas(data))

	proofAt := 4 + 64 + 32
	for _, at := range []int{proofAt + 31, proofAt + len(sol)/2, proofAt + len(sol) - 1} {
		bad := bytes.Clone(data)
		bad[at] ^= 0x01
		if ok, _ := verified(bad); ok {
			t.Errorf("proof with byte %d flipped accepted", at-proofAt)
		}
	}
	bad := bytes.Clone(data)
	bad[len(bad)-1] ^= 0x01 // the last public input
	if ok, _ := verified(bad); ok {
		t.Error("changed public input accepted")
	}
}

// encode is what proofd writes for proofs and keys: gnark's WriteTo.
func encode(t testing.TB, v io.WriterTo) []byte {
	t.Helper()
	var b bytes.Buffer
	if _, err := v.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// marshal is what proofd writes for witnesses: MarshalBinary.
func marshal(t testing.TB, w witness.Witness) []byte {
	t.Helper()
	b, err := w.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rangeChecked commits (gnark's rangecheck gadget calls api.Commit), so its
// Groth16 keys and proofs carry one Pedersen commitment.
type rangeChecked struct {
	X frontend.Variable
	Y frontend.Variable `gnark:",public"`
}

func (c *rangeChecked) Define(api frontend.API) error {
	rangecheck.New(api).Check(c.X, 16)
	api.AssertIsEqual(api.Mul(c.X, 3), c.Y)
	return nil
}

// TestCommitmentsNeedTheSolidityTarget: Calldata refuses a Groth16 proof
// with commitments (ErrCommitments, naming the proof, or the vk when given);
// with Options.SolidityTarget it encodes it as Groth16SolidityCalldata does,
// the proof being MarshalSolidity's 256 + 64·(1+1) bytes; the key's public
// input count does not include the commitment.
func TestCommitmentsNeedTheSolidityTarget(t *testing.T) {
	cs, err := frontend.Compile(ecc.BN254.ScalarField(), r1cs.NewBuilder, &rangeChecked{})
	if err != nil {
		t.Fatal(err)
	}
	pk, vk, err := groth16.Setup(cs)
	if err != nil {
		t.Fatal(err)
	}
	full, err := frontend.NewWitness(&rangeChecked{X: 7, Y: 21}, ecc.BN254.ScalarField())
	if err != nil {
		t.Fatal(err)
	}
	public, _ := full.Public()
	proof, err := groth16.Prove(cs, pk, full, solidity.WithProverTargetSolidityVerifier(backend.GROTH16))
	if err != nil {
		t.Fatal(err)
	}
	k, err := evm.DecodeVK(encode(t, vk))
	if err != nil || k.NbPublic != 1 || k.Commitments != 1 {
		t.Fatalf("DecodeVK: %+v, %v; want 1 public input and 1 commitment", k, err)
	}
	if _, err := evm.Groth16Calldata(proof, public); !errors.Is(err, evm.ErrCommitments) {
		t.Errorf("Groth16Calldata: %v, want ErrCommitments", err)
	}
	for _, key := range []struct {
		vk    []byte
		input string
	}{{nil, "proof"}, {encode(t, vk), "vk"}} {
		_, err := evm.Calldata(encode(t, proof), marshal(t, public), key.vk)
		var ie *evm.InputError
		if !errors.As(err, &ie) || ie.Input != key.input || !errors.Is(err, evm.ErrCommitments) {
			t.Errorf("Calldata (vk %v): %v, want ErrCommitments naming %s", key.vk != nil, err, key.input)
		}
	}
	want, err := evm.Groth16SolidityCalldata(proof, public)
	if err != nil {
		t.Fatal(err)
	}
	call, err := evm.CalldataWith(encode(t, proof), marshal(t, public), encode(t, vk), evm.Options{SolidityTarget: true})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(call.Data, want) || call.Signature != "verifyProof(bytes,uint256[1])" {
		t.Fatalf("CalldataWith: %s, %d bytes; want Groth16SolidityCalldata's %d", call.Signature, len(call.Data), len(want))
	}
	// selector, offset, 1 input, length, 384 bytes of proof.
	if n := len(call.Data); n != 4+32+32+32+384 {
		t.Errorf("calldata of %d bytes, want %d", n, 4+32+32+32+384)
	}
}
