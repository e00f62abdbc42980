package cli_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/proofd/proofd/bb/bbtest"
	"github.com/proofd/proofd/engine/enginetest"
	"github.com/proofd/proofd/engine/noirclient"
)

// noir runs `proofd noir ARGS --bb BB` in this process.
func noir(t *testing.T, args ...string) result {
	t.Helper()
	return proofd(t, append(append([]string{"noir"}, args...), "--bb", bbtest.BB(t))...)
}

func mustNoir(t *testing.T, args ...string) result {
	t.Helper()
	r := noir(t, args...)
	if r.code != 0 {
		t.Fatalf("proofd noir %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// bbCLI runs the bb CLI itself; the CRS comes from `proofd noir crs`.
func bbCLI(t *testing.T, args ...string) ([]byte, error) {
	t.Helper()
	crsDir := filepath.Join(t.TempDir(), "crs")
	mustRun(t, "noir", "crs", "--out", crsDir)
	return exec.Command(bbtest.BB(t), append(args, "-c", crsDir)...).CombinedOutput()
}

func flipped(t *testing.T, src, dst string, at int) {
	t.Helper()
	b := read(t, src)
	b[at] ^= 1
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestNoirCLI: prove then verify is exit 0, and the files are bb's (the bb
// CLI verifies them); a tampered proof or public input is exit 1; a
// missing file is exit 2 naming it; stats, check, vk and solidity work.
func TestNoirCLI(t *testing.T) {
	tiny := bbtest.Load(t, "tiny")
	circuit, witness := filepath.Join(tiny.Dir, "circuit.json"), filepath.Join(tiny.Dir, "witness.gz")
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }

	mustNoir(t, "prove", "--circuit", circuit, "--witness", witness, "--proof", p("proof"), "--public", p("public_inputs"), "--vk", p("vk"))
	if r := mustNoir(t, "verify", "--vk", p("vk"), "--proof", p("proof"), "--public", p("public_inputs")); !strings.Contains(r.stdout, "is valid") {
		t.Errorf("verify printed %q", r.stdout)
	}
	if out, err := bbCLI(t, "verify", "-k", p("vk"), "-p", p("proof"), "-i", p("public_inputs")); err != nil {
		t.Fatalf("bb verify of proofd's files: %v\n%s", err, out)
	}
	// The vk proofd noir vk writes is the one prove wrote.
	mustNoir(t, "vk", "--circuit", circuit, "--out", p("vk2"))
	if !bytes.Equal(read(t, p("vk")), read(t, p("vk2"))) {
		t.Error("noir vk and noir prove --vk wrote different keys")
	}

	flipped(t, p("proof"), p("proof.bad"), 100)
	if r := noir(t, "verify", "--vk", p("vk"), "--proof", p("proof.bad"), "--public", p("public_inputs")); r.code != 1 || !strings.Contains(r.stderr, "INVALID") {
		t.Errorf("tampered proof: exit %d, stderr %q; want 1 and INVALID", r.code, r.stderr)
	}
	flipped(t, p("public_inputs"), p("public.bad"), 31)
	if r := noir(t, "verify", "--vk", p("vk"), "--proof", p("proof"), "--public", p("public.bad")); r.code != 1 {
		t.Errorf("tampered public input: exit %d, want 1\n%s", r.code, r.stderr)
	}
	for _, c := range []struct {
		args []string
		name string
	}{
		{[]string{"verify", "--vk", p("vk"), "--proof", p("missing-proof"), "--public", p("public_inputs")}, "missing-proof"},
		{[]string{"prove", "--circuit", p("missing.json"), "--witness", witness, "--proof", p("x"), "--public", p("y")}, "missing.json"},
		{[]string{"check", "--circuit", circuit, "--witness", p("missing.gz")}, "missing.gz"},
	} {
		if r := noir(t, c.args...); r.code != 2 || !strings.Contains(r.stderr, c.name) {
			t.Errorf("proofd noir %s: exit %d, stderr %q; want 2 naming %s", c.args[0], r.code, r.stderr, c.name)
		}
	}

	var st noirclient.Stats
	r := mustNoir(t, "stats", "--circuit", circuit, "--json")
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatalf("stats --json %q: %v", r.stdout, err)
	}
	if st.Gates != 19 || st.DyadicSize != 32 || st.ACIROpcodes != 1 || st.MaxDyadicSize != 1<<15 || st.Timings != nil {
		t.Errorf("stats = %+v; want tiny's 19 gates, dyadic 32, 1 opcode, max 2^15, no timings", st)
	}
	mustNoir(t, "check", "--circuit", circuit, "--witness", witness)
	// hashchain's witness is not tiny's: unsatisfied, exit 1.
	if r := noir(t, "check", "--circuit", circuit, "--witness", filepath.Join(bbtest.Load(t, "hashchain").Dir, "witness.gz")); r.code != 1 {
		t.Errorf("check with another circuit's witness: exit %d, want 1\n%s", r.code, r.stderr)
	}

	mustNoir(t, "vk", "--circuit", circuit, "--out", p("vk.evm"), "--oracle-hash", "keccak")
	mustNoir(t, "solidity", "--vk", p("vk.evm"), "--out", p("Verifier.sol"))
	if !bytes.Contains(read(t, p("Verifier.sol")), []byte("contract")) {
		t.Error("Verifier.sol holds no contract")
	}
}

// TestNoirRecorderReplaysWithBB: with PROOFD_DEBUG_DIR set, a prove and a
// verify (Keccak, bb's -t evm) are recorded with command.sh scripts that
// redo them with the bb CLI; the replayed proof verifies and proves the
// recorded public inputs.
func TestNoirRecorderReplaysWithBB(t *testing.T) {
	tiny := bbtest.Load(t, "tiny")
	dir, rec := t.TempDir(), t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	t.Setenv("PROOFD_DEBUG_DIR", rec)
	mustNoir(t, "prove", "--circuit", filepath.Join(tiny.Dir, "circuit.json"), "--witness", filepath.Join(tiny.Dir, "witness.gz"),
		"--proof", p("proof"), "--public", p("public_inputs"), "--vk", p("vk"), "--oracle-hash", "keccak")
	mustNoir(t, "verify", "--vk", p("vk"), "--proof", p("proof"), "--public", p("public_inputs"), "--oracle-hash", "keccak")
	os.Unsetenv("PROOFD_DEBUG_DIR")

	prove, verify := filepath.Join(rec, "0001-prove-circuit"), filepath.Join(rec, "0002-verify-vk")
	for _, c := range []string{prove, verify} {
		cmd := exec.Command("sh", filepath.Join(c, "command.sh"))
		cmd.Env = append(os.Environ(), "PROOFD="+enginetest.Proofd(t), "BB="+bbtest.BB(t), "PROOFD_DEBUG_DIR=")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s/command.sh: %v\n%s", c, err, out)
		}
	}
	replay := filepath.Join(prove, "replay")
	if !bytes.Equal(read(t, filepath.Join(replay, "public_inputs")), read(t, filepath.Join(prove, "output", "public_inputs"))) {
		t.Error("replayed prove's public inputs differ from the engine's")
	}
	if !bytes.Equal(read(t, filepath.Join(replay, "vk")), read(t, filepath.Join(prove, "output", "vk"))) {
		t.Error("replayed prove's vk differs from the engine's")
	}
	mustNoir(t, "verify", "--vk", filepath.Join(replay, "vk"), "--proof", filepath.Join(replay, "proof"),
		"--public", filepath.Join(replay, "public_inputs"), "--oracle-hash", "keccak")
}

// TestBenchBBQuick: every path runs and every ratio is reported.
func TestBenchBBQuick(t *testing.T) {
	r := mustRun(t, "bench", "bb", "--quick", "--json", "--bb", bbtest.BB(t), "--noir-dir", filepath.Join(bbtest.Root, "testdata", "noir"))
	var rep struct {
		Bench  string             `json:"bench"`
		Ratios map[string]float64 `json:"ratios"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("bench output is not JSON: %v\n%s", err, r.stdout)
	}
	for _, k := range []string{"pooled_over_direct_verify", "pooled_over_direct_prove", "fresh_over_pooled_verify", "cli_over_pooled_verify",
		"pooled_over_direct_verify_hashchain", "bb_start_ms", "bb_start_ms_min", "bb_start_ms_max"} {
		if rep.Ratios[k] <= 0 {
			t.Errorf("%s = %v, want > 0", k, rep.Ratios[k])
		}
	}
}
