package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"

	"github.com/proofd/proofd/artifact"
	"github.com/proofd/proofd/engine"
	"github.com/proofd/proofd/engine/vmclient"
	"github.com/proofd/proofd/vm"
)

// WarmProofConfig configures the proof-at-step comparison.
type WarmProofConfig struct {
	// Proofd is the proofd binary: it serves the VM engine and runs
	// `vm run` for the baseline.
	Proofd string
	// Guest is the MIPS64 ELF whose trace is questioned.
	Guest string
	// Every is the snapshot distance, on disk and in the engine.
	Every uint64
	// Reps is the number of random steps asked about.
	Reps     int
	Progress io.Writer
}

// WarmProof adds to rep the latency of "proof of step i" from a warm VM
// engine against what a challenger does without one: run `proofd vm run
// --proof-at =i` (Cannon's `cannon run` semantics) as a new process from the
// nearest snapshot file. Both start from the same snapshot grid, and every
// pair of answers is checked to be the same proof.
func WarmProof(ctx context.Context, rep *Report, cfg WarmProofConfig) error {
	if cfg.Every == 0 {
		cfg.Every = 200_000
	}
	if cfg.Reps == 0 {
		cfg.Reps = 15
	}
	progress := func(format string, args ...any) {
		if cfg.Progress != nil {
			fmt.Fprintf(cfg.Progress, format+"\n", args...)
		}
	}
	dir, err := os.MkdirTemp("", "proofd-bench-vm-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	progress("bench snapshot: warm proofs: snapshots of %s every %d steps", filepath.Base(cfg.Guest), cfg.Every)
	st, _, err := vm.LoadELF(cfg.Guest)
	if err != nil {
		return err
	}
	prestatePath := filepath.Join(dir, "prestate.snap")
	if err := vm.WriteState(prestatePath, st); err != nil {
		return err
	}
	snapPath := func(step uint64) string { return filepath.Join(dir, fmt.Sprintf("%d.snap", step)) }
	m := vm.NewMachine(st, nil, nil, nil, nil)
	for !m.Exited() {
		if err := vm.WriteState(snapPath(m.Step()), m.State()); err != nil {
			return err
		}
		if err := m.RunTo(ctx, m.Step()+cfg.Every); err != nil {
			return err
		}
	}
	end := m.Step()

	c, err := engine.Spawn(ctx, engine.SpawnOptions{Path: cfg.Proofd, Args: []string{"engine", "serve", "--kind", "vm", "--exit-on-stdin-eof"}})
	if err != nil {
		return err
	}
	defer c.Close()
	pre, err := os.ReadFile(prestatePath)
	if err != nil {
		return err
	}
	prestate := artifact.New(pre)
	if _, err := vmclient.New(c).Load(ctx, vmclient.LoadRequest{Prestate: prestate, SnapshotEvery: cfg.Every}); err != nil {
		return err
	}

	rng := rand.New(rand.NewPCG(1, 2))
	s := samples{}
	progress("bench snapshot: warm proofs: %d random steps of %d", cfg.Reps, end)
	for range cfg.Reps {
		i := 1 + rng.Uint64N(end-1)
		var warm *vmclient.StepData
		if err := timeit(s, "proof warm-engine", func() (err error) {
			warm, err = vmclient.New(c).StepDataAt(ctx, prestate.Digest, i)
			return err
		}); err != nil {
			return err
		}
		from := (i - 1) / cfg.Every * cfg.Every
		proofFile := filepath.Join(dir, fmt.Sprintf("proof-%d.json", i))
		if err := timeit(s, "proof rerun-from-snapshot", func() error {
			cmd := exec.CommandContext(ctx, cfg.Proofd, "vm", "run", "--input", snapPath(from),
				"--proof-at", fmt.Sprintf("=%d", i), "--stop-at", fmt.Sprintf("=%d", i+1),
				"--proof-fmt", filepath.Join(dir, "proof-%d.json"), "--info-at", "never")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Run(); err != nil {
				return fmt.Errorf("vm run: %v: %s", err, stderr.Bytes())
			}
			return nil
		}); err != nil {
			return err
		}
		var cold vm.Proof
		b, err := os.ReadFile(proofFile)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, &cold); err != nil {
			return err
		}
		if cold.Pre != warm.Pre || cold.Post != warm.Post || !bytes.Equal(cold.ProofData, warm.ProofData) || !bytes.Equal(cold.StateData, warm.StateData) {
			return fmt.Errorf("step %d: the warm engine's proof differs from vm run's", i)
		}
	}
	rep.ratio("warm_proof_speedup_vs_rerun", s, "proof rerun-from-snapshot", "proof warm-engine")
	rep.addRows(s, slices.Sorted(func(yield func(string) bool) {
		for k := range s {
			if !yield(k) {
				return
			}
		}
	}))
	return nil
}
