package bbengine

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/proofd/proofd/bb/bbtest"
	"github.com/proofd/proofd/bb/crs"
	"github.com/proofd/proofd/proto/enginev1"
)

// bbCLI runs the bb CLI on one thread and returns its exit code; a bb that
// cannot run at all fails the test.
func bbCLI(t *testing.T, args ...string) (code int, output string) {
	t.Helper()
	cmd := exec.Command(bbtest.BB(t), args...)
	cmd.Env = append(os.Environ(), "HARDWARE_CONCURRENCY=1")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	}
	if err != nil {
		t.Fatalf("bb %v: %v", args, err)
	}
	return 0, string(out)
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Issue 11's parity with the bb CLI, for both oracle hashes (the CLI's
// default target and -t evm): the engine's vk is byte-identical to `bb
// write_vk`'s, a proof from the engine verifies with `bb verify`, and a
// proof from `bb prove` verifies through the engine. Proofs and public
// inputs are the same layout on both sides: 32-byte fields, concatenated,
// which is what `bb prove -o` writes as proof and public_inputs.
func TestParityWithBBCLI(t *testing.T) {
	c := spawn(t)
	noir := enginev1.NewNoirClient(c.Raw())
	ctx := ctxT(t)
	tiny := bbtest.Load(t, "tiny")
	circuitJSON := filepath.Join(tiny.Dir, "circuit.json")
	witnessGz := filepath.Join(tiny.Dir, "witness.gz")
	circuit := upload(t, c, "circuit", tiny.ACIR)
	crsDir := t.TempDir()
	if err := crs.WriteDir(crsDir); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name   string
		oracle enginev1.OracleHash
		target []string // the bb CLI's flags for the same proof system
	}{
		{"poseidon2", enginev1.OracleHash_ORACLE_HASH_POSEIDON2, nil},
		{"keccak", enginev1.OracleHash_ORACLE_HASH_KECCAK, []string{"-t", "evm"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cli := func(args ...string) (int, string) {
				t.Helper()
				return bbCLI(t, append(append(args, "-c", crsDir), tc.target...)...)
			}

			// The verifying key.
			vkDir := filepath.Join(dir, "vk")
			if code, out := cli("write_vk", "-b", circuitJSON, "-o", vkDir); code != 0 {
				t.Fatalf("bb write_vk: exit %d\n%s", code, out)
			}
			cliVk := readFile(t, filepath.Join(vkDir, "vk"))
			vk, err := noir.Vk(ctx, &enginev1.NoirVkRequest{Circuit: circuit, OracleHash: tc.oracle})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(vk.VkBytes, cliVk) {
				t.Fatalf("the engine's vk (%d bytes) differs from bb write_vk's (%d bytes)", len(vk.VkBytes), len(cliVk))
			}

			// The engine's proof, verified by bb verify.
			p, err := noir.Prove(ctx, &enginev1.NoirProveRequest{Circuit: circuit, Witness: tiny.Witness, OracleHash: tc.oracle})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(p.Vk, vk.Vk) {
				t.Errorf("Prove's vk digest differs from Vk's")
			}
			engineDir := filepath.Join(dir, "engine")
			if err := os.Mkdir(engineDir, 0o755); err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(engineDir, "proof"), p.Proof)
			writeFile(t, filepath.Join(engineDir, "public_inputs"), p.PublicInputs)
			verify := func(proof string) (int, string) {
				return cli("verify", "-k", filepath.Join(vkDir, "vk"), "-p", proof, "-i", filepath.Join(engineDir, "public_inputs"))
			}
			if code, out := verify(filepath.Join(engineDir, "proof")); code != 0 {
				t.Fatalf("bb verify of the engine's proof: exit %d\n%s", code, out)
			}
			// The check can fail: bb refuses the same proof tampered.
			tampered := bytes.Clone(p.Proof)
			tampered[len(tampered)-1] ^= 1
			writeFile(t, filepath.Join(engineDir, "tampered"), tampered)
			if code, out := verify(filepath.Join(engineDir, "tampered")); code != 1 {
				t.Fatalf("bb verify of a tampered proof: exit %d, want 1\n%s", code, out)
			}

			// bb prove's proof, verified by the engine.
			proveDir := filepath.Join(dir, "cli")
			if code, out := cli("prove", "-b", circuitJSON, "-w", witnessGz, "-k", filepath.Join(vkDir, "vk"), "-o", proveDir); code != 0 {
				t.Fatalf("bb prove: exit %d\n%s", code, out)
			}
			cliProof := readFile(t, filepath.Join(proveDir, "proof"))
			cliPublic := readFile(t, filepath.Join(proveDir, "public_inputs"))
			if len(cliProof) != len(p.Proof) || !bytes.Equal(cliPublic, p.PublicInputs) {
				t.Errorf("bb prove wrote a %d-byte proof and public inputs %x; the engine's are %d bytes and %x",
					len(cliProof), cliPublic, len(p.Proof), p.PublicInputs)
			}
			v, err := noir.Verify(ctx, &enginev1.NoirVerifyRequest{Vk: vk.Vk, Proof: cliProof, PublicInputs: cliPublic, OracleHash: tc.oracle})
			if err != nil || !v.Valid {
				t.Fatalf("the engine's verification of bb prove's proof: %v, %v", v, err)
			}
			t.Logf("vk %d bytes, proof %d bytes, public inputs %d bytes: the same from the engine and the CLI", len(cliVk), len(cliProof), len(cliPublic))
		})
	}
}
