package cli_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/frontend/cs/r1cs"
	"github.com/consensys/gnark/std/rangecheck"
	"github.com/ethereum/go-ethereum/accounts/abi"

	"github.com/proofd/proofd/evm"
	"github.com/proofd/proofd/evm/evmtest"
	"github.com/proofd/proofd/internal/cli"
)

// inprocess runs the CLI with the in-process engine only: no proofd binary
// is built for these tests.
func inprocess(t *testing.T, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Run(context.Background(), append([]string{"--engine", "inprocess"}, args...), &out, &errb)
	return result{out.String(), errb.String(), code}
}

func mustInprocess(t *testing.T, args ...string) result {
	t.Helper()
	r := inprocess(t, args...)
	if r.code != 0 {
		t.Fatalf("proofd %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// TestCalldataOnChain: prove with the CLI, export the verifier with the CLI,
// encode with proofd calldata, and the contract compiled by solc accepts the
// bytes in go-ethereum's EVM; the same bytes for a tampered public witness
// are rejected. Groth16 and PLONK.
func TestCalldataOnChain(t *testing.T) {
	if testing.Short() {
		t.Skip("proves twice and compiles two verifiers; the race run (-short) adds nothing: the EVM part runs no goroutines")
	}
	evmtest.Solc(t)
	for _, tc := range []struct{ scheme, contract, setupFlag, sig string }{
		{"groth16", "Verifier", "", "verifyProof(bytes,uint256[1])"},
		{"plonk", "PlonkVerifier", "--dev-srs", "Verify(bytes,uint256[])"},
	} {
		t.Run(tc.scheme, func(t *testing.T) {
			dir := t.TempDir()
			p := func(name string) string { return filepath.Join(dir, name) }
			mustInprocess(t, "example", "write", "--name", "mimc", "--size", "3", "--scheme", tc.scheme, "--dir", dir)
			setup := []string{"setup", "--ccs", p("circuit.ccs"), "--scheme", tc.scheme, "--pk", p("pk"), "--vk", p("vk")}
			if tc.setupFlag != "" {
				setup = append(setup, tc.setupFlag)
			}
			mustInprocess(t, setup...)
			mustInprocess(t, "prove", "--ccs", p("circuit.ccs"), "--pk", p("pk"), "--witness", p("witness.wtns"), "--proof", p("proof"), "--public", p("public"))
			mustInprocess(t, "solidity", "--vk", p("vk"), "--out", p("Verifier.sol"))
			r := mustInprocess(t, "calldata", "--proof", p("proof"), "--public", p("public"), "--vk", p("vk"), "--out", p("calldata"))
			if !strings.Contains(r.stdout, tc.sig) {
				t.Errorf("calldata output %q does not name %s", r.stdout, tc.sig)
			}
			mustInprocess(t, "calldata", "--proof", p("proof"), "--public", p("public"), "--out", p("calldata.hex"), "--hex")
			data := read(t, p("calldata"))
			if h := string(read(t, p("calldata.hex"))); h != "0x"+hex.EncodeToString(data)+"\n" {
				t.Errorf("--hex wrote %q, want the hex of %x", h, data)
			}

			c := evmtest.Compile(t, string(read(t, p("Verifier.sol"))), tc.contract)
			chain := evmtest.NewChain(t)
			addr := chain.Deploy(t, c.Bytecode)
			if ok, res := accepted(t, c.ABI, chain.Call(addr, data)); !ok {
				t.Fatalf("valid proof rejected on chain: %v (%s)", res.Err, evmtest.RevertName(c.ABI, res.Return))
			} else {
				t.Logf("%s on chain: %d gas execution, %d bytes of calldata", tc.scheme, res.GasUsed, len(data))
			}

			// A public witness for another output: calldata encodes it, the
			// contract rejects it.
			pub := read(t, p("public"))
			pub[len(pub)-1] ^= 0x01
			os.WriteFile(p("public.bad"), pub, 0o644)
			mustInprocess(t, "calldata", "--proof", p("proof"), "--public", p("public.bad"), "--out", p("calldata.bad"))
			if ok, _ := accepted(t, c.ABI, chain.Call(addr, read(t, p("calldata.bad")))); ok {
				t.Error("proof accepted on chain for a changed public input")
			}
		})
	}
}

// accepted is the verdict of gnark's exported verifiers: Groth16's returns
// nothing and reverts unless valid; PLONK's returns a bool.
func accepted(t *testing.T, a abi.ABI, r evmtest.Result) (bool, evmtest.Result) {
	t.Helper()
	if r.Err != nil {
		return false, r
	}
	if _, plonk := a.Methods["Verify"]; !plonk {
		return true, r
	}
	out, err := a.Unpack("Verify", r.Return)
	if err != nil {
		t.Fatalf("Verify returned %x: %v", r.Return, err)
	}
	return out[0].(bool), r
}

// TestCalldataErrors: bad inputs exit 2 with a message naming the file.
func TestCalldataErrors(t *testing.T) {
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	mustInprocess(t, "example", "write", "--name", "mimc", "--size", "3", "--dir", dir)
	mustInprocess(t, "setup", "--ccs", p("circuit.ccs"), "--pk", p("pk"), "--vk", p("vk"))
	mustInprocess(t, "prove", "--ccs", p("circuit.ccs"), "--pk", p("pk"), "--witness", p("witness.wtns"), "--proof", p("proof"), "--public", p("public"))

	b := filepath.Join(dir, "bls")
	mustInprocess(t, "example", "write", "--name", "mimc", "--size", "3", "--curve", "bls12-377", "--dir", b)
	mustInprocess(t, "setup", "--ccs", filepath.Join(b, "circuit.ccs"), "--pk", filepath.Join(b, "pk"), "--vk", filepath.Join(b, "vk"))
	mustInprocess(t, "prove", "--ccs", filepath.Join(b, "circuit.ccs"), "--pk", filepath.Join(b, "pk"), "--witness", filepath.Join(b, "witness.wtns"),
		"--proof", p("proof.bls"), "--public", p("public.bls"))

	n := filepath.Join(dir, "plonk")
	mustInprocess(t, "example", "write", "--name", "mimc", "--size", "3", "--scheme", "plonk", "--dir", n)
	mustInprocess(t, "setup", "--ccs", filepath.Join(n, "circuit.ccs"), "--scheme", "plonk", "--dev-srs", "--pk", filepath.Join(n, "pk"), "--vk", p("vk.plonk"))

	os.WriteFile(p("garbage"), []byte("not a proof, just some bytes long enough to look like one..."), 0o644)
	// A byte flipped inside the compressed A: about half of all x are on
	// the curve (Setup is randomized), so take the first flip that leaves
	// none.
	proof := read(t, p("proof"))
	var flipped []byte
	for i := 1; i < 32 && flipped == nil; i++ {
		f := bytes.Clone(proof)
		f[i] ^= 0x01
		if _, err := evm.DecodeProof(f); err != nil {
			flipped = f
		}
	}
	if flipped == nil {
		t.Fatal("every flip of A's bytes 1..31 still decodes")
	}
	os.WriteFile(p("proof.flipped"), flipped, 0o644)

	out := p("calldata")
	cases := []struct {
		name    string
		args    []string
		mention []string
	}{
		{"missing proof", []string{"--proof", p("missing"), "--public", p("public")}, []string{"--proof", p("missing"), "no such file"}},
		{"missing public", []string{"--proof", p("proof"), "--public", p("nope")}, []string{"--public", p("nope")}},
		{"no --out", []string{"--proof", p("proof"), "--public", p("public"), "--out", ""}, []string{"--out is required"}},
		{"garbage proof", []string{"--proof", p("garbage"), "--public", p("public")}, []string{p("garbage"), "--proof", "not a bn254 Groth16 or PLONK proof"}},
		{"flipped proof", []string{"--proof", p("proof.flipped"), "--public", p("public")}, []string{p("proof.flipped"), "--proof"}},
		{"bls12-377 proof", []string{"--proof", p("proof.bls"), "--public", p("public.bls")}, []string{p("proof.bls"), "bls12-377 Groth16 proof", "bn254 only"}},
		{"bls12-377 vk", []string{"--proof", p("proof"), "--public", p("public"), "--vk", filepath.Join(b, "vk")}, []string{filepath.Join(b, "vk"), "--vk", "bls12-377 verifying key"}},
		{"full witness", []string{"--proof", p("proof"), "--public", p("witness.wtns")}, []string{p("witness.wtns"), "--public", "secret"}},
		{"garbage public", []string{"--proof", p("proof"), "--public", p("garbage")}, []string{p("garbage"), "--public"}},
		{"vk of another scheme", []string{"--proof", p("proof"), "--public", p("public"), "--vk", p("vk.plonk")}, []string{p("proof"), "groth16 proof", "plonk"}},
	}
	for _, tc := range cases {
		args := append([]string{"calldata", "--out", out}, tc.args...)
		r := inprocess(t, args...)
		if r.code != 2 {
			t.Errorf("%s: exit %d, want 2\n%s%s", tc.name, r.code, r.stdout, r.stderr)
			continue
		}
		for _, want := range tc.mention {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("%s: stderr %q does not mention %q", tc.name, r.stderr, want)
			}
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a failed calldata left %s behind (%v)", out, err)
	}
}

// committedCircuit range-checks X with gnark's rangecheck gadget, which
// commits (api.Commit): its Groth16 proofs carry a Pedersen commitment.
type committedCircuit struct {
	X frontend.Variable
	Y frontend.Variable `gnark:",public"`
}

func (c *committedCircuit) Define(api frontend.API) error {
	rangecheck.New(api).Check(c.X, 16)
	api.AssertIsEqual(api.Mul(c.X, 3), c.Y)
	return nil
}

// TestCalldataSolidityTarget: a Groth16 proof of a circuit with commitments,
// made with proofd prove --target solidity, verifies with proofd verify
// --target solidity and, through proofd calldata --solidity-target, in the
// EVM; without the flag calldata refuses it, and the same circuit's native
// proof encodes with the flag but the contract rejects it.
func TestCalldataSolidityTarget(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles a verifier with solc")
	}
	evmtest.Solc(t)
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	cs, err := frontend.Compile(ecc.BN254.ScalarField(), r1cs.NewBuilder, &committedCircuit{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := frontend.NewWitness(&committedCircuit{X: 1234, Y: 3702}, ecc.BN254.ScalarField())
	if err != nil {
		t.Fatal(err)
	}
	var ccs bytes.Buffer
	if _, err := cs.WriteTo(&ccs); err != nil {
		t.Fatal(err)
	}
	wit, err := w.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(p("circuit.ccs"), ccs.Bytes(), 0o644)
	os.WriteFile(p("witness.wtns"), wit, 0o644)

	mustInprocess(t, "setup", "--ccs", p("circuit.ccs"), "--pk", p("pk"), "--vk", p("vk"))
	prove := func(out, target string) {
		mustInprocess(t, "prove", "--ccs", p("circuit.ccs"), "--pk", p("pk"), "--witness", p("witness.wtns"),
			"--proof", p(out), "--public", p("public"), "--target", target)
	}
	prove("proof.sol", "solidity")
	prove("proof.native", "native")
	mustInprocess(t, "verify", "--vk", p("vk"), "--proof", p("proof.sol"), "--public", p("public"), "--target", "solidity")
	if r := inprocess(t, "verify", "--vk", p("vk"), "--proof", p("proof.sol"), "--public", p("public")); r.code != 1 {
		t.Errorf("a solidity-target proof verified natively: exit %d, want 1 (invalid)\n%s%s", r.code, r.stdout, r.stderr)
	}
	r := inprocess(t, "calldata", "--proof", p("proof.sol"), "--public", p("public"), "--vk", p("vk"), "--out", p("calldata"))
	if r.code != 2 || !strings.Contains(r.stderr, "--solidity-target") {
		t.Errorf("calldata of a proof with commitments without --solidity-target: exit %d, want 2 mentioning the flag\n%s", r.code, r.stderr)
	}
	mustInprocess(t, "calldata", "--proof", p("proof.sol"), "--public", p("public"), "--vk", p("vk"), "--out", p("calldata"), "--solidity-target")
	mustInprocess(t, "calldata", "--proof", p("proof.native"), "--public", p("public"), "--vk", p("vk"), "--out", p("calldata.native"), "--solidity-target")
	mustInprocess(t, "solidity", "--vk", p("vk"), "--out", p("Verifier.sol"))

	c := evmtest.Compile(t, string(read(t, p("Verifier.sol"))), "Verifier")
	chain := evmtest.NewChain(t)
	addr := chain.Deploy(t, c.Bytecode)
	data := read(t, p("calldata"))
	if ok, res := accepted(t, c.ABI, chain.Call(addr, data)); !ok {
		t.Fatalf("solidity-target proof with a commitment rejected on chain: %v (%s)", res.Err, evmtest.RevertName(c.ABI, res.Return))
	} else {
		t.Logf("groth16 with 1 commitment on chain: %d gas execution, %d bytes of calldata", res.GasUsed, len(data))
	}
	if ok, _ := accepted(t, c.ABI, chain.Call(addr, read(t, p("calldata.native")))); ok {
		t.Error("a native-target proof with a commitment accepted on chain")
	}
	for _, at := range []int{len(data) - 1, len(data) - 64 - 1} { // the PoK, the commitment
		bad := bytes.Clone(data)
		bad[at] ^= 0x01
		if ok, _ := accepted(t, c.ABI, chain.Call(addr, bad)); ok {
			t.Errorf("calldata with byte %d flipped accepted", at)
		}
	}
	if r := inprocess(t, "prove", "--ccs", p("circuit.ccs"), "--pk", p("pk"), "--witness", p("witness.wtns"),
		"--proof", p("x"), "--public", p("y"), "--target", "ethereum"); r.code != 2 || !strings.Contains(r.stderr, "--target") {
		t.Errorf("--target ethereum: exit %d, stderr %q", r.code, r.stderr)
	}
}
