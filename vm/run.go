package vm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ethereum-optimism/optimism/cannon/mipsevm/exec"
	"github.com/ethereum-optimism/optimism/cannon/mipsevm/program"
	"github.com/ethereum-optimism/optimism/cannon/mipsevm/versions"

	"github.com/proofd/proofd/snapshot"
)

// Cannon's defaults for the run flags.
const (
	DefaultProofFmt    = "proof-%d.json"
	DefaultSnapshotFmt = "state-%d.bin.gz"
	DefaultInfoAt      = "%1000000000"
)

// RunConfig is `proofd vm run`: Cannon's `cannon run` with its flags. The
// zero value of a pattern never matches, of a format is Cannon's default,
// of a writer discards.
type RunConfig struct {
	// Input is the state to start from: a proofd snapshot or a Cannon
	// .bin/.bin.gz file (detected by content). Required.
	Input string
	// Output is where the state is written when the run stops, by name as
	// WriteState decides; empty: not written.
	Output string

	// Step patterns (ParseStepMatcher), checked before each step in
	// Cannon's order: info, stop, snapshot, proof.
	InfoAt, StopAt, SnapshotAt, ProofAt string

	// SnapshotFmt names the snapshot written before step N, formatted
	// with N (default "state-%d.bin.gz"); the name picks the format as in
	// WriteState. ProofFmt names the proof of step N (default
	// "proof-%d.json"; gzipped if it ends in .gz; "-" writes to Proofs).
	// Missing directories are created.
	SnapshotFmt, ProofFmt string

	// Server is the preimage server command (`cannon run -- cmd...`); empty:
	// no oracle, and a preimage read fails the run.
	Server []string
	// Oracle, if set, answers preimages instead of a Server.
	Oracle Oracle

	// Meta, if set, names symbols in info lines.
	Meta *program.Metadata

	// GuestStdout, GuestStderr receive the guest's output; ServerStdout and
	// ServerStderr the preimage server's.
	GuestStdout, GuestStderr   io.Writer
	ServerStdout, ServerStderr io.Writer
	// Info receives one JSON object per line: a "processing" line at each
	// InfoAt step (Cannon's log fields) and a "stopped" line at the end.
	Info io.Writer
	// Proofs receives proofs when ProofFmt is "-".
	Proofs io.Writer

	// Snapshot tunes snapshot files written as proofd snapshots, and its
	// MaxMemoryBytes bounds the input state (see LoadState).
	Snapshot snapshot.Options

	// Progress, if set, is called on Run's goroutine with the number of
	// steps this run has taken: every ProgressEvery steps (step 0 of the
	// run included) and once more when the loop ends. It must be quick; it
	// cannot change what the run does.
	Progress func(steps uint64)
}

// ProgressEvery is how many steps apart Run calls RunConfig.Progress: often
// enough for a display refreshed a few times a second, rarely enough to
// cost nothing next to the steps.
const ProgressEvery = 1 << 14

type runPlan struct {
	RunConfig
	infoAt, stopAt, snapshotAt, proofAt StepMatcher
}

// EnsureDefaults fills every unset format with Cannon's default and the
// snapshot options with theirs.
func (c *RunConfig) EnsureDefaults() {
	if c.ProofFmt == "" {
		c.ProofFmt = DefaultProofFmt
	}
	if c.SnapshotFmt == "" {
		c.SnapshotFmt = DefaultSnapshotFmt
	}
	c.Snapshot.EnsureDefaults()
}

// Validate reports every bad field at once; it checks a config that
// EnsureDefaults has filled.
func (c *RunConfig) Validate() error {
	_, err := c.plan()
	return err
}

// plan parses the step patterns, collecting every error on the way.
func (c *RunConfig) plan() (runPlan, error) {
	p := runPlan{RunConfig: *c}
	var errs []error
	if c.Input == "" {
		errs = append(errs, errors.New("no input state"))
	}
	for _, m := range []struct {
		flag, pattern string
		to            *StepMatcher
	}{
		{"info-at", c.InfoAt, &p.infoAt},
		{"stop-at", c.StopAt, &p.stopAt},
		{"snapshot-at", c.SnapshotAt, &p.snapshotAt},
		{"proof-at", c.ProofAt, &p.proofAt},
	} {
		var err error
		if *m.to, err = ParseStepMatcher(m.pattern); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", m.flag, err))
		}
	}
	if c.ProofFmt != "-" && !namesStep(c.ProofFmt) {
		errs = append(errs, fmt.Errorf("proof-fmt %q: no %%d for the step, every proof would overwrite the last", c.ProofFmt))
	}
	if !namesStep(c.SnapshotFmt) {
		errs = append(errs, fmt.Errorf("snapshot-fmt %q: no %%d for the step, every snapshot would overwrite the last", c.SnapshotFmt))
	}
	if len(c.Server) > 0 && c.Oracle != nil {
		errs = append(errs, errors.New("both a preimage server command and an oracle"))
	}
	if err := c.Snapshot.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return p, fmt.Errorf("vm run: %w", err)
	}
	return p, nil
}

// namesStep reports whether format uses its one argument, the step, so
// that each step gets its own file.
func namesStep(format string) bool {
	one := fmt.Sprintf(format, uint64(1))
	return one != fmt.Sprintf(format, uint64(2)) && !strings.Contains(one, "%!")
}

// Run runs a state as `cannon run` does: load the input, start the
// preimage server, then until the program exits: print info, stop, write a
// snapshot, and step (with a proof written) as the patterns say, in that
// order, all before the step; finally write the output state. Like Cannon,
// it writes no snapshot or proof at or after the exit step. A done ctx stops
// the run with an error wrapping ctx's error; the output is then not
// written.
func Run(ctx context.Context, cfg RunConfig) (err error) {
	cfg.EnsureDefaults()
	p, err := cfg.plan()
	if err != nil {
		return err
	}
	st, err := LoadState(p.Input, p.Snapshot)
	if err != nil {
		return err
	}
	oracle := p.Oracle
	if len(p.Server) > 0 {
		po, err := StartProcessOracle(ctx, p.Server, p.ServerStdout, p.ServerStderr)
		if err != nil {
			return err
		}
		defer func() {
			// Cannon only logs a failure to stop its server; so do we.
			if cerr := po.Close(); cerr != nil {
				p.info(map[string]any{"msg": "closing the preimage server failed", "err": cerr.Error()})
			}
		}()
		oracle = po
	}
	m := NewMachine(st, oracle, p.Meta, p.GuestStdout, p.GuestStderr)
	start, startStep := time.Now(), m.Step()
	for n := 0; !m.Exited(); n++ {
		step := m.Step()
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("vm run: stopped at step %d: %w", step, err)
			}
		}
		if p.Progress != nil && n%ProgressEvery == 0 {
			p.Progress(uint64(n))
		}
		if p.infoAt(step) {
			p.processing(m, start, startStep)
		}
		if p.stopAt(step) {
			break
		}
		if p.snapshotAt(step) {
			if err := p.writeSnapshot(st, step); err != nil {
				return err
			}
		}
		if p.proofAt(step) {
			proof, err := m.StepWithProof()
			if err != nil {
				return runErr(ctx, err)
			}
			if err := p.writeProof(proof); err != nil {
				return err
			}
		} else if err := m.stepOne(); err != nil {
			return runErr(ctx, err)
		}
	}
	if p.Progress != nil {
		p.Progress(m.Step() - startStep)
	}
	p.info(map[string]any{"msg": "stopped", "step": m.Step(), "exited": m.Exited(), "exit_code": st.GetExitCode()})
	if p.Output != "" {
		if err := writeState(p.Output, st, p.Snapshot); err != nil {
			return err
		}
	}
	return nil
}

func runErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("vm run: %w (%w)", err, cerr)
	}
	return fmt.Errorf("vm run: %w", err)
}

func (p *runPlan) writeSnapshot(st *versions.VersionedState, step uint64) error {
	path := fmt.Sprintf(p.SnapshotFmt, step)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("vm run: snapshot at step %d: %w", step, err)
	}
	return writeState(path, st, p.Snapshot)
}

func (p *runPlan) writeProof(proof *Proof) error {
	if p.ProofFmt == "-" {
		b, err := EncodeJSON(proof)
		if err == nil && p.Proofs != nil {
			_, err = p.Proofs.Write(b)
		}
		if err != nil {
			return fmt.Errorf("vm run: proof of step %d: %w", proof.Step, err)
		}
		return nil
	}
	path := fmt.Sprintf(p.ProofFmt, proof.Step)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("vm run: proof of step %d: %w", proof.Step, err)
	}
	return WriteJSONFile(path, proof)
}

// processing is Cannon's "processing" log line, as JSON.
func (p *runPlan) processing(m *Machine, start time.Time, startStep uint64) {
	if p.Info == nil {
		return
	}
	st := m.State()
	pc := st.GetPC()
	insn := exec.LoadSubWord(st.GetMemory(), pc, 4, false, new(exec.NoopMemoryTracker))
	line := map[string]any{
		"msg":   "processing",
		"step":  st.GetStep(),
		"pc":    fmt.Sprintf("%#08x", pc),
		"insn":  fmt.Sprintf("%#08x", insn),
		"ips":   ips(st.GetStep()-startStep, time.Since(start)),
		"pages": st.GetMemory().PageCount(),
		"mem":   st.GetMemory().Usage(),
	}
	if p.Meta != nil {
		line["name"] = p.Meta.LookupSymbol(pc)
	}
	p.info(line)
}

// ips is steps per second, 0 before any time has passed (JSON has no NaN).
func ips(steps uint64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(steps) / d.Seconds()
}

func (p *runPlan) info(line map[string]any) {
	if p.Info == nil {
		return
	}
	b, err := json.Marshal(line)
	if err != nil {
		return
	}
	p.Info.Write(append(b, '\n'))
}
