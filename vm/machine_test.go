package vm

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/proofd/proofd/snapshot"
)

func TestParseStepMatcher(t *testing.T) {
	for _, tc := range []struct {
		pattern string
		match   []uint64
		miss    []uint64
		bad     bool
	}{
		{pattern: "", miss: []uint64{0, 1, 1 << 40}},
		{pattern: "never", miss: []uint64{0, 7}},
		{pattern: "always", match: []uint64{0, 1, ^uint64(0)}},
		{pattern: "=0", match: []uint64{0}, miss: []uint64{1}},
		{pattern: "=123", match: []uint64{123}, miss: []uint64{0, 122, 124}},
		{pattern: "=0x10", match: []uint64{16}, miss: []uint64{10}},
		{pattern: "%1", match: []uint64{0, 1, 2}},
		{pattern: "%1000", match: []uint64{0, 1000, 5000}, miss: []uint64{1, 999, 1001}},
		{pattern: "%0", bad: true},
		{pattern: "=", bad: true},
		{pattern: "=-1", bad: true},
		{pattern: "%x", bad: true},
		{pattern: "=18446744073709551616", bad: true},
		{pattern: "123", bad: true},
		{pattern: "Always", bad: true},
	} {
		m, err := ParseStepMatcher(tc.pattern)
		if tc.bad {
			if err == nil || !strings.Contains(err.Error(), tc.pattern) {
				t.Errorf("ParseStepMatcher(%q): %v, want an error naming the pattern", tc.pattern, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseStepMatcher(%q): %v", tc.pattern, err)
			continue
		}
		for _, s := range tc.match {
			if !m(s) {
				t.Errorf("%q does not match step %d", tc.pattern, s)
			}
		}
		for _, s := range tc.miss {
			if m(s) {
				t.Errorf("%q matches step %d", tc.pattern, s)
			}
		}
	}
}

// TestExitedMachine: past the exit there is nothing to step or prove, as
// in Cannon; ExtensionProof is the challenger's no-op step.
func TestExitedMachine(t *testing.T) {
	st := loadELF(t, helloELF)
	m := NewMachine(st, nil, nil, nil, nil)
	if _, err := ExtensionProof(st, 5); err == nil {
		t.Error("ExtensionProof of a running state: no error")
	}
	if err := m.RunTo(context.Background(), 1000); err != nil || m.Step() != 1000 {
		t.Fatalf("RunTo(1000): %v at step %d", err, m.Step())
	}
	if err := m.RunTo(context.Background(), 999); err == nil {
		t.Error("RunTo backwards: no error")
	}
	if err := m.RunTo(context.Background(), ^uint64(0)); err != nil || !m.Exited() {
		t.Fatalf("RunTo(end): %v, exited %v", err, m.Exited())
	}
	end, claim := m.Step(), Claim(st)
	if _, err := m.StepWithProof(); !errors.Is(err, ErrExited) {
		t.Errorf("StepWithProof after the exit: %v, want ErrExited", err)
	}
	if err := m.RunTo(context.Background(), end+10); err != nil || m.Step() != end || Claim(st) != claim {
		t.Errorf("RunTo past the exit: %v, step %d (exit at %d), claim changed %v", err, m.Step(), end, Claim(st) != claim)
	}
	p, err := ExtensionProof(st, end+7)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := EncodeJSON(p)
	w, _ := st.EncodeWitness()
	if p.Pre != claim || p.Post != claim || !bytes.Equal(p.StateData, w) || !bytes.Contains(b, []byte(`"proof-data": "0x"`)) || bytes.Contains(b, []byte("oracle")) {
		t.Errorf("extension proof:\n%s", b)
	}
}

// TestClone: a clone at a mid-run step runs to the same end as the original.
func TestClone(t *testing.T) {
	st := loadELF(t, helloELF)
	m := NewMachine(st, nil, nil, nil, nil)
	if err := m.RunTo(context.Background(), 700000); err != nil {
		t.Fatal(err)
	}
	cp, err := Clone(st)
	if err != nil {
		t.Fatal(err)
	}
	var a, b bytes.Buffer
	if err := st.Serialize(&a); err != nil {
		t.Fatal(err)
	}
	if err := cp.Serialize(&b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("the clone serializes differently")
	}
	if err := m.RunTo(context.Background(), ^uint64(0)); err != nil {
		t.Fatal(err)
	}
	mc := NewMachine(cp, nil, nil, nil, nil)
	if err := mc.RunTo(context.Background(), ^uint64(0)); err != nil {
		t.Fatal(err)
	}
	if Claim(cp) != Claim(st) || mc.Step() != m.Step() {
		t.Errorf("clone ends at step %d with %s, original at %d with %s", mc.Step(), Claim(cp), m.Step(), Claim(st))
	}
	if testing.Short() {
		return
	}
	large, err := CloneLargeICache(loadELF(t, helloELF))
	if err != nil {
		t.Fatal(err)
	}
	ml := NewMachine(large, nil, nil, nil, nil)
	if err := ml.RunTo(context.Background(), ^uint64(0)); err != nil {
		t.Fatal(err)
	}
	if Claim(large) != Claim(st) {
		t.Errorf("large i-cache run ends with %s, want %s", Claim(large), Claim(st))
	}
	if _, err := Clone(nil); err == nil {
		t.Error("Clone(nil): no error")
	}
}

// TestRunInfoAndStdoutProofs: info lines are JSON, a "-" proof format
// writes to Proofs, and Run writes the same proof as StepWithProof.
func TestRunInfoAndStdoutProofs(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.state")
	if err := WriteState(in, loadELF(t, helloELF)); err != nil {
		t.Fatal(err)
	}
	var info, proofs, guest bytes.Buffer
	err := Run(context.Background(), RunConfig{Input: in, Output: filepath.Join(dir, "out.state"), InfoAt: "%1000000",
		ProofAt: "=1000000", ProofFmt: "-", Proofs: &proofs, Info: &info, GuestStdout: &guest})
	if err != nil {
		t.Fatal(err)
	}
	var lines []map[string]any
	sc := bufio.NewScanner(&info)
	for sc.Scan() {
		var l map[string]any
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("info line %q: %v", sc.Text(), err)
		}
		lines = append(lines, l)
	}
	if len(lines) != 3 || lines[0]["step"] != 0.0 || lines[1]["step"] != 1e6 || lines[2]["msg"] != "stopped" || lines[2]["exited"] != true {
		t.Errorf("info lines %v", lines)
	}
	if !strings.HasPrefix(guest.String(), "hello from cannon") {
		t.Errorf("guest output %q", guest.String())
	}
	st := loadELF(t, helloELF)
	m := NewMachine(st, nil, nil, nil, nil)
	if err := m.RunTo(context.Background(), 1000000); err != nil {
		t.Fatal(err)
	}
	p, err := m.StepWithProof()
	if err != nil {
		t.Fatal(err)
	}
	want, _ := EncodeJSON(p)
	if !bytes.Equal(proofs.Bytes(), want) {
		t.Errorf("proof written to Proofs:\n%s\nwant:\n%s", proofs.Bytes(), want)
	}
	i, err := snapshot.ReadInfo(filepath.Join(dir, "out.state"))
	if err != nil {
		t.Fatal(err)
	}
	if _ = m.RunTo(context.Background(), ^uint64(0)); i.Claim != Claim(st) || i.Step != st.GetStep() {
		t.Errorf("output snapshot: claim %s at step %d, want %s at %d", i.Claim, i.Step, Claim(st), st.GetStep())
	}
}

func TestRunConfigDefaultsAreValid(t *testing.T) {
	cfg := RunConfig{Input: "in.bin"}
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.ProofFmt != DefaultProofFmt || cfg.SnapshotFmt != DefaultSnapshotFmt || cfg.Snapshot.PagesPerChunk == 0 {
		t.Errorf("defaults not filled: %+v", cfg)
	}
}

func TestRunConfigErrors(t *testing.T) {
	err := Run(context.Background(), RunConfig{ProofAt: "%0", StopAt: "sometimes", ProofFmt: "proof.json", SnapshotFmt: "snap", Server: []string{"x"}, Oracle: NewKVOracle(nil),
		Snapshot: snapshot.Options{PagesPerChunk: -1}})
	for _, want := range []string{"no input", "proof-at", "stop-at", "proof-fmt", "snapshot-fmt", "both a preimage server", "PagesPerChunk"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Run with a bad config: %v, want it to mention %q", err, want)
		}
	}
}

func TestRunCanceled(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.bin")
	if err := WriteState(in, loadELF(t, helloELF)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out := filepath.Join(dir, "out.bin")
	if err := Run(ctx, RunConfig{Input: in, Output: out}); !errors.Is(err, context.Canceled) {
		t.Errorf("Run with a canceled context: %v", err)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("output written after a cancel: %v", err)
	}
}

// TestRunProgress: Progress sees step 0, then every ProgressEvery steps,
// then the run's total, and the run ends where it ends without it.
func TestRunProgress(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.state")
	if err := WriteState(in, loadELF(t, helloELF)); err != nil {
		t.Fatal(err)
	}
	var seen []uint64
	out := filepath.Join(dir, "out.state")
	if err := Run(context.Background(), RunConfig{Input: in, Output: out, Progress: func(n uint64) { seen = append(seen, n) }}); err != nil {
		t.Fatal(err)
	}
	i, err := snapshot.ReadInfo(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) < 3 || seen[len(seen)-1] != i.Step {
		t.Fatalf("progress calls %d, last %v; want at least 3 ending at the final step %d", len(seen), seen[len(seen)-1:], i.Step)
	}
	for k, n := range seen[:len(seen)-1] {
		if n != uint64(k)*ProgressEvery {
			t.Fatalf("progress call %d: %d steps, want %d", k, n, uint64(k)*ProgressEvery)
		}
	}
	st := loadELF(t, helloELF)
	if err := NewMachine(st, nil, nil, nil, nil).RunTo(context.Background(), ^uint64(0)); err != nil {
		t.Fatal(err)
	}
	if i.Claim != Claim(st) || i.Step != st.GetStep() {
		t.Errorf("run with Progress ends with %s at step %d, want %s at %d", i.Claim, i.Step, Claim(st), st.GetStep())
	}
}
