package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/proofd/proofd/engine/enginetest"
	"github.com/proofd/proofd/engine/snarkclient"
	"github.com/proofd/proofd/internal/cli"
)

type result struct {
	stdout, stderr string
	code           int
}

// proofd runs the CLI in this process; --engine spawn children are the
// freshly built proofd binary.
func proofd(t *testing.T, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	args = append([]string{"--engine-bin", enginetest.Proofd(t)}, args...)
	code := cli.Run(context.Background(), args, &out, &errb)
	return result{out.String(), errb.String(), code}
}

func mustRun(t *testing.T, args ...string) result {
	t.Helper()
	r := proofd(t, args...)
	if r.code != 0 {
		t.Fatalf("proofd %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var modes = []string{"inprocess", "spawn"}

// TestCLIParity: the same inputs through the in-process engine and through
// a spawned engine process give the same deterministic outputs, and each
// path's proofs verify on the other.
func TestCLIParity(t *testing.T) {
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	mustRun(t, "example", "write", "--name", "transfer", "--size", "3", "--curve", "bn254", "--scheme", "plonk", "--dir", dir)
	mustRun(t, "srs", "dev", "--ccs", p("circuit.ccs"), "--out", p("srs.bin"))

	for _, m := range modes {
		stats := mustRun(t, "--engine", m, "stats", "--ccs", p("circuit.ccs"), "--json")
		os.WriteFile(p("stats."+m), []byte(stats.stdout), 0o644)
		mustRun(t, "--engine", m, "setup", "--ccs", p("circuit.ccs"), "--scheme", "plonk", "--srs", p("srs.bin"), "--pk", p("pk."+m), "--vk", p("vk."+m))
		mustRun(t, "--engine", m, "solidity", "--vk", p("vk."+m), "--out", p("sol."+m))
		mustRun(t, "--engine", m, "prove", "--ccs", p("circuit.ccs"), "--pk", p("pk."+m), "--witness", p("witness.wtns"), "--proof", p("proof."+m), "--public", p("public."+m))
	}
	for _, f := range []string{"stats", "vk", "sol", "public"} {
		if !bytes.Equal(read(t, p(f+".inprocess")), read(t, p(f+".spawn"))) {
			t.Errorf("%s differs between the in-process and the spawned engine", f)
		}
	}
	var st snarkclient.Stats
	if err := json.Unmarshal(read(t, p("stats.spawn")), &st); err != nil || st.Scheme != "plonk" || st.Curve != "bn254" {
		t.Errorf("stats --json = %q (%v)", read(t, p("stats.spawn")), err)
	}
	for _, verifier := range modes {
		for _, prover := range modes {
			mustRun(t, "--engine", verifier, "verify", "--vk", p("vk.inprocess"), "--proof", p("proof."+prover), "--public", p("public."+prover))
		}
	}

	// Groth16 setup is randomized: each path's keys, proofs verified by the other path.
	g := t.TempDir()
	q := func(name string) string { return filepath.Join(g, name) }
	mustRun(t, "example", "write", "--name", "mimc", "--size", "5", "--curve", "bls12-377", "--dir", g)
	for _, m := range modes {
		mustRun(t, "--engine", m, "setup", "--ccs", q("circuit.ccs"), "--pk", q("pk."+m), "--vk", q("vk."+m))
		mustRun(t, "--engine", m, "prove", "--ccs", q("circuit.ccs"), "--pk", q("pk."+m), "--witness", q("witness.wtns"), "--proof", q("proof."+m), "--public", q("public."+m))
	}
	for i, m := range modes {
		other := modes[1-i]
		mustRun(t, "--engine", other, "verify", "--vk", q("vk."+m), "--proof", q("proof."+m), "--public", q("public."+m))
		// A proof under the other path's key is a different statement: invalid in both.
		for _, v := range modes {
			if r := proofd(t, "--engine", v, "verify", "--vk", q("vk."+m), "--proof", q("proof."+other), "--public", q("public."+other)); r.code != 1 {
				t.Errorf("%s verifying %s's proof with %s's vk: exit %d, want 1", v, other, m, r.code)
			}
		}
	}
}

// TestExitCodes: verify and check answer 0/1 for yes/no and 2 for errors,
// with messages that name the file.
func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	mustRun(t, "example", "write", "--name", "mimc", "--size", "3", "--dir", dir)
	mustRun(t, "setup", "--ccs", p("circuit.ccs"), "--pk", p("pk"), "--vk", p("vk"))
	mustRun(t, "prove", "--ccs", p("circuit.ccs"), "--pk", p("pk"), "--witness", p("witness.wtns"), "--proof", p("proof"), "--public", p("public"))

	proof := read(t, p("proof"))
	flipped := bytes.Clone(proof)
	flipped[len(flipped)/2] ^= 0x01
	os.WriteFile(p("proof.flipped"), flipped, 0o644)
	os.WriteFile(p("vk.truncated"), read(t, p("vk"))[:50], 0o644)
	os.WriteFile(p("ccs.garbage"), []byte("not a circuit at all, just some bytes that are long enough to pass...."), 0o644)
	wit := read(t, p("witness.wtns"))
	wit[len(wit)-1] ^= 1
	os.WriteFile(p("witness.bad"), wit, 0o644)

	cases := []struct {
		args    []string
		code    int
		mention []string
	}{
		{[]string{"verify", "--vk", p("vk"), "--proof", p("proof"), "--public", p("public")}, 0, []string{"valid"}},
		{[]string{"verify", "--vk", p("vk"), "--proof", p("proof.flipped"), "--public", p("public")}, 1, []string{"INVALID", p("proof.flipped")}},
		{[]string{"verify", "--vk", p("vk.truncated"), "--proof", p("proof"), "--public", p("public")}, 2, []string{p("vk.truncated"), "verifying key"}},
		{[]string{"verify", "--vk", p("missing"), "--proof", p("proof"), "--public", p("public")}, 2, []string{"--vk", "no such file"}},
		{[]string{"verify", "--vk", p("vk"), "--proof", p("proof"), "--public", p("witness.wtns")}, 2, []string{p("witness.wtns"), "secret"}},
		{[]string{"check", "--ccs", p("circuit.ccs"), "--witness", p("witness.wtns")}, 0, []string{"satisfies"}},
		{[]string{"check", "--ccs", p("circuit.ccs"), "--witness", p("witness.bad")}, 1, []string{"does NOT satisfy"}},
		{[]string{"stats", "--ccs", p("ccs.garbage")}, 2, []string{p("ccs.garbage"), "gnark constraint system"}},
		{[]string{"setup", "--ccs", p("circuit.ccs"), "--scheme", "plonk", "--pk", p("x"), "--vk", p("y")}, 2, []string{"R1CS"}},
		{[]string{"--engine", "nowhere", "stats", "--ccs", p("circuit.ccs")}, 2, []string{"--engine"}},
	}
	for _, tc := range cases {
		for _, m := range modes {
			args := append([]string{"--engine", m}, tc.args...)
			if tc.args[0] == "--engine" {
				args = tc.args
			}
			r := proofd(t, args...)
			if r.code != tc.code {
				t.Errorf("proofd %s: exit %d, want %d\n%s%s", strings.Join(args, " "), r.code, tc.code, r.stdout, r.stderr)
				continue
			}
			for _, want := range tc.mention {
				if !strings.Contains(r.stdout+r.stderr, want) {
					t.Errorf("proofd %s: output %q does not mention %q", strings.Join(args, " "), r.stdout+r.stderr, want)
				}
			}
		}
	}
}

// TestDebugRecorder: with PROOFD_DEBUG_DIR set, each call leaves a directory
// whose command.sh redoes the call with the CLI and gets the same answer.
func TestDebugRecorder(t *testing.T) {
	dir, rec := t.TempDir(), t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	mustRun(t, "example", "write", "--name", "mimc", "--size", "3", "--scheme", "plonk", "--dir", dir)
	t.Setenv("PROOFD_DEBUG_DIR", rec)
	mustRun(t, "stats", "--ccs", p("circuit.ccs"), "--json")
	mustRun(t, "setup", "--ccs", p("circuit.ccs"), "--scheme", "plonk", "--dev-srs", "--pk", p("pk"), "--vk", p("vk"))
	mustRun(t, "--engine", "spawn", "prove", "--ccs", p("circuit.ccs"), "--pk", p("pk"), "--witness", p("witness.wtns"), "--proof", p("proof"), "--public", p("public"))
	mustRun(t, "verify", "--vk", p("vk"), "--proof", p("proof"), "--public", p("public"))
	os.Unsetenv("PROOFD_DEBUG_DIR")

	calls, err := filepath.Glob(filepath.Join(rec, "[0-9]*"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"0001-stats-circuit", "0002-setup-circuit", "0003-prove-circuit", "0004-verify-vk"}
	if len(calls) != len(want) {
		t.Fatalf("recorded %v, want %v", calls, want)
	}
	for i, c := range calls {
		if filepath.Base(c) != want[i] {
			t.Fatalf("call %d recorded as %s, want %s", i, filepath.Base(c), want[i])
		}
		cmd := exec.Command("sh", filepath.Join(c, "command.sh"))
		cmd.Env = append(os.Environ(), "PROOFD="+enginetest.Proofd(t), "PROOFD_DEBUG_DIR=")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s/command.sh: %v\n%s", c, err, out)
		}
		replay, recorded := filepath.Join(c, "replay"), filepath.Join(c, "output")
		switch i {
		case 0: // stats: the same numbers
			var got, want snarkclient.Stats
			json.Unmarshal(out, &got)
			json.Unmarshal(read(t, filepath.Join(recorded, "result.json")), &want)
			want.Timings = nil
			if got.Constraints == 0 || got.Constraints != want.Constraints || got.Curve != want.Curve || got.Scheme != want.Scheme {
				t.Errorf("replayed stats %+v, recorded %+v", got, want)
			}
		case 1: // setup with the dev SRS is deterministic: the same keys
			for _, f := range []string{"pk.bin", "vk.bin"} {
				if !bytes.Equal(read(t, filepath.Join(replay, f)), read(t, filepath.Join(recorded, f))) {
					t.Errorf("replayed setup's %s differs from the recorded one", f)
				}
			}
		case 2: // prove: the replayed proof verifies and proves the same public values
			if !bytes.Equal(read(t, filepath.Join(replay, "public.wtns")), read(t, filepath.Join(recorded, "public.wtns"))) {
				t.Error("replayed prove's public witness differs")
			}
			mustRun(t, "verify", "--vk", p("vk"), "--proof", filepath.Join(replay, "proof.bin"), "--public", filepath.Join(replay, "public.wtns"))
		case 3: // verify: valid again
			if !strings.Contains(string(read(t, filepath.Join(recorded, "result.json"))), `"valid": true`) || !strings.Contains(string(out), "valid") {
				t.Errorf("verify replay: %s", out)
			}
		}
	}
}

func TestBenchEngineQuick(t *testing.T) {
	r := mustRun(t, "bench", "engine", "--quick", "--reps", "2", "--json")
	var rep struct {
		Bench  string             `json:"bench"`
		Rows   []map[string]any   `json:"rows"`
		Ratios map[string]float64 `json:"ratios"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("bench output is not JSON: %v\n%s", err, r.stdout)
	}
	if rep.Bench != "engine" || len(rep.Rows) != 12 {
		t.Fatalf("bench = %s with %d rows, want engine with 12", rep.Bench, len(rep.Rows))
	}
	for _, k := range []string{"warm_over_inprocess_prove", "warm_over_inprocess_verify", "fresh_over_inprocess_verify"} {
		if rep.Ratios[k] <= 0 {
			t.Errorf("ratio %s = %v, want > 0", k, rep.Ratios[k])
		}
	}
	// A fresh process per verify costs a process start; a warm engine does not.
	if rep.Ratios["fresh_over_inprocess_verify"] <= rep.Ratios["warm_over_inprocess_verify"] {
		t.Errorf("fresh verify (%v×) not slower than warm (%v×)", rep.Ratios["fresh_over_inprocess_verify"], rep.Ratios["warm_over_inprocess_verify"])
	}
}

func TestBenchQueueQuick(t *testing.T) {
	r := mustRun(t, "bench", "queue", "--quick", "--json")
	var rep struct {
		Bench  string             `json:"bench"`
		Rows   []map[string]any   `json:"rows"`
		Ratios map[string]float64 `json:"ratios"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("bench output is not JSON: %v\n%s", err, r.stdout)
	}
	if rep.Bench != "queue" || len(rep.Rows) != 7 {
		t.Fatalf("bench = %s with %d rows, want queue with 7", rep.Bench, len(rep.Rows))
	}
	for _, k := range []string{"jetstream_over_local_per_job", "jetstream_over_local_verify", "artifact_cold_over_disk", "artifact_cold_over_memory"} {
		if rep.Ratios[k] <= 0 {
			t.Errorf("ratio %s = %v, want > 0", k, rep.Ratios[k])
		}
	}
}

func TestBenchPoolQuick(t *testing.T) {
	r := mustRun(t, "bench", "pool", "--quick", "--json")
	var rep struct {
		Bench  string             `json:"bench"`
		Ratios map[string]float64 `json:"ratios"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("bench output is not JSON: %v\n%s", err, r.stdout)
	}
	for _, k := range []string{"pooled_over_inprocess_verify", "pooled_over_inprocess_verify_min", "pooled_over_inprocess_verify_max", "pooled_over_inprocess_throughput", "pooled_over_fresh_throughput", "mix_none_over_affinity_latency", "mix_roundrobin_over_affinity_latency"} {
		if rep.Ratios[k] <= 0 {
			t.Errorf("ratio %s = %v, want > 0", k, rep.Ratios[k])
		}
	}
	// A pooled engine serves many verifications in the time a fresh one starts.
	if rep.Ratios["pooled_over_fresh_throughput"] < 2 {
		t.Errorf("pooled_over_fresh_throughput = %v: the pool is not faster than fresh engines", rep.Ratios["pooled_over_fresh_throughput"])
	}
}

// TestVMAndSnapshotCommands: load an ELF, run it with proofs and snapshots,
// read a snapshot's claim from its header, verify it, convert it to Cannon's
// format and back, and get the same witness from every form.
func TestVMAndSnapshotCommands(t *testing.T) {
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	elf := filepath.Join("..", "..", "testdata", "guests", "hello.elf")
	mustRun(t, "vm", "load-elf", "--path", elf, "--out", p("pre.snap"))
	mustRun(t, "vm", "run", "--input", p("pre.snap"), "--output", p("final.snap"),
		"--snapshot-at", "=100000", "--snapshot-fmt", p("snap-%d.snap"),
		"--proof-at", "=123456", "--proof-fmt", p("proof-%d.json"), "--info-at", "never")
	var proof struct {
		Step uint64 `json:"step"`
		Pre  string `json:"pre"`
		Post string `json:"post"`
	}
	if err := json.Unmarshal(read(t, p("proof-123456.json")), &proof); err != nil || proof.Step != 123456 || proof.Pre == proof.Post {
		t.Fatalf("proof file: %+v %v", proof, err)
	}
	info := mustRun(t, "snapshot", "info", p("snap-100000.snap"), "--json")
	var hdr map[string]any
	if err := json.Unmarshal([]byte(info.stdout), &hdr); err != nil {
		t.Fatalf("snapshot info --json: %v\n%s", err, info.stdout)
	}
	mustRun(t, "snapshot", "verify", p("final.snap"))
	mustRun(t, "snapshot", "convert", p("final.snap"), p("final.bin.gz"))
	mustRun(t, "snapshot", "convert", p("final.bin.gz"), p("again.snap"))
	w1 := mustRun(t, "vm", "witness", "--input", p("final.snap")).stdout
	w2 := mustRun(t, "vm", "witness", "--input", p("final.bin.gz")).stdout
	w3 := mustRun(t, "vm", "witness", "--input", p("again.snap")).stdout
	if w1 != w2 || w1 != w3 || !strings.Contains(w1, "0x") {
		t.Fatalf("witness differs between formats:\n%s\n%s\n%s", w1, w2, w3)
	}
	// A state larger than --max-memory-bytes is refused, naming the file.
	for _, in := range []string{p("final.snap"), p("final.bin.gz")} {
		r := proofd(t, "vm", "witness", "--input", in, "--max-memory-bytes", "65536")
		if r.code != 2 || !strings.Contains(r.stderr, in) || !strings.Contains(r.stderr, "memory") {
			t.Fatalf("vm witness of %s under a 64 KiB ceiling: exit %d, stderr %q; want exit 2 naming the file and the memory limit", in, r.code, r.stderr)
		}
	}
	// A flipped bit is caught and named.
	b := read(t, p("final.snap"))
	b[len(b)/2] ^= 0x10
	os.WriteFile(p("bad.snap"), b, 0o644)
	if r := proofd(t, "snapshot", "verify", p("bad.snap")); r.code == 0 || !strings.Contains(r.stdout+r.stderr, p("bad.snap")) {
		t.Fatalf("verify of a damaged snapshot: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// startSetup starts the built proofd on an in-process setup of a circuit
// whose setup takes minutes here (338k constraints), and returns once the
// setup has used two seconds of CPU, well past reading its input.
func startSetup(t *testing.T) (*exec.Cmd, *bytes.Buffer, string) {
	t.Helper()
	dir := t.TempDir()
	bin := enginetest.Proofd(t)
	if out, err := exec.Command(bin, "example", "write", "--name", "mimc", "--size", "1024", "--dir", dir).CombinedOutput(); err != nil {
		t.Fatalf("example write: %v\n%s", err, out)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "setup", "--ccs", filepath.Join(dir, "circuit.ccs"),
		"--pk", filepath.Join(dir, "pk"), "--vk", filepath.Join(dir, "vk"))
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	for deadline := time.Now().Add(2 * time.Minute); cpuTicks(t, cmd.Process.Pid) < 200; {
		if time.Now().After(deadline) {
			t.Fatal("setup did not get two seconds of CPU in two minutes")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return cmd, &stderr, dir
}

// cpuTicks is the user+system CPU time of pid in clock ticks (1/100 s).
func cpuTicks(t *testing.T, pid int) int {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		t.Fatalf("process %d: %v", pid, err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if f[0] == "Z" {
		t.Fatalf("process %d exited early", pid)
	}
	utime, _ := strconv.Atoi(f[11])
	stime, _ := strconv.Atoi(f[12])
	return utime + stime
}

// exitWithin waits for cmd up to limit and returns its exit code.
func exitWithin(t *testing.T, cmd *exec.Cmd, limit time.Duration) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		return cmd.ProcessState.ExitCode()
	case <-time.After(limit):
		cmd.Process.Kill()
		<-done
		t.Fatalf("proofd still running %s after the signal", limit)
		return 0
	}
}

// gnark's setup takes no context: on SIGTERM proofd abandons it and exits
// within the grace, leaving no output behind.
func TestSetupExitsWithinGraceOnSIGTERM(t *testing.T) {
	cmd, stderr, dir := startSetup(t)
	cmd.Process.Signal(syscall.SIGTERM)
	if code := exitWithin(t, cmd, cli.Grace+10*time.Second); code != 2 {
		t.Errorf("exit code %d, want 2; stderr: %s", code, stderr)
	}
	if !strings.Contains(stderr.String(), "interrupted") {
		t.Errorf("stderr %q does not say it was interrupted", stderr)
	}
	for _, f := range []string{"pk", "vk"} {
		if _, err := os.Stat(filepath.Join(dir, f)); !os.IsNotExist(err) {
			t.Errorf("%s written by an interrupted setup", f)
		}
	}
}

func TestSetupExitsAtOnceOnSecondSignal(t *testing.T) {
	cmd, stderr, _ := startSetup(t)
	cmd.Process.Signal(syscall.SIGINT)
	cmd.Process.Signal(syscall.SIGTERM)
	// Before the grace has run out, only the second signal can end it.
	if code := exitWithin(t, cmd, cli.Grace-time.Second); code != 2 {
		t.Errorf("exit code %d, want 2; stderr: %s", code, stderr)
	}
	if !strings.Contains(stderr.String(), "second signal") {
		t.Errorf("stderr %q does not mention the second signal", stderr)
	}
}
