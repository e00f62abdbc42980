package vm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/ethereum-optimism/optimism/cannon/mipsevm"
	"github.com/ethereum-optimism/optimism/cannon/mipsevm/arch"
	"github.com/ethereum-optimism/optimism/cannon/mipsevm/program"
	"github.com/ethereum-optimism/optimism/cannon/mipsevm/versions"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/log"
)

// ErrExited: the program has exited, so there is no next step to execute or
// prove. Cannon's run loop stops at the exit too and writes no proof for
// the exit step or any later one; a fault-dispute trace is extended past
// the end with the final state (see ExtensionProof).
var ErrExited = errors.New("program has exited")

// ErrBroken: an earlier step of this machine failed part way, leaving its
// state undefined.
var ErrBroken = errors.New("machine is unusable after a failed step")

// Proof is Cannon's proof JSON, the struct `cannon run --proof-at` writes,
// field for field; EncodeJSON of it gives Cannon's file byte for byte.
type Proof struct {
	Step uint64 `json:"step"`

	Pre  common.Hash `json:"pre"`
	Post common.Hash `json:"post"`

	StateData hexutil.Bytes `json:"state-data"`
	ProofData hexutil.Bytes `json:"proof-data"`

	OracleKey    hexutil.Bytes `json:"oracle-key,omitempty"`
	OracleValue  hexutil.Bytes `json:"oracle-value,omitempty"`
	OracleOffset arch.Word     `json:"oracle-offset,omitempty"`
}

// ExtensionProof is what a fault-dispute challenger uses for a step at or
// after the program's exit (op-challenger's trace extension): st is exited
// and every later step is a no-op, so pre and post are both st's claim, the
// state data is st's witness, and the proof data is empty (not absent).
// A state that has not exited has no extension: that is an error.
func ExtensionProof(st *versions.VersionedState, step uint64) (*Proof, error) {
	if !st.GetExited() {
		return nil, fmt.Errorf("extension proof at step %d: the state at step %d has not exited", step, st.GetStep())
	}
	w, h := st.EncodeWitness()
	return &Proof{Step: step, Pre: h, Post: h, StateData: w, ProofData: hexutil.Bytes{}}, nil
}

// Machine steps one state with Cannon's FPVM (multithreaded.InstrumentedState).
// It is not safe for concurrent use, and it owns the state it was given:
// the state changes as the machine steps.
//
// Cannon's VM reports an oracle failure, and some malformed guests, by
// panicking. Machine recovers such a panic and returns it as the step's
// error (wrapping the panic value when it is an error, so
// errors.Is(err, ErrUnknownPreimage) and context cancellation through a
// ProcessOracle work). A panic can leave the state half-updated, so after
// one every call returns an error wrapping ErrBroken.
type Machine struct {
	st     *versions.VersionedState
	fpvm   mipsevm.FPVM
	broken error
}

// NewMachine prepares st for stepping. oracle may be nil: hints are then
// dropped and a preimage read fails the step with ErrNoOracle, as in
// `cannon run` without a server. meta (symbols for Cannon's debug output)
// may be nil. The guest's stdout and stderr go to the writers (nil
// discards). st must be a state LoadState, LoadELF or Clone returned.
func NewMachine(st *versions.VersionedState, oracle Oracle, meta *program.Metadata, stdout, stderr io.Writer) *Machine {
	if oracle == nil {
		oracle = noOracle{}
	}
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	var m mipsevm.Metadata
	if meta != nil {
		m = meta
	}
	return &Machine{st: st, fpvm: st.CreateVM(log.NewLogger(slog.DiscardHandler), oracle, stdout, stderr, m)}
}

// State is the machine's state, live: it changes as the machine steps.
func (m *Machine) State() *versions.VersionedState { return m.st }

// Step is the number of instructions executed so far: the next step to run.
func (m *Machine) Step() uint64 { return m.st.GetStep() }

// Exited reports whether the program has exited.
func (m *Machine) Exited() bool { return m.st.GetExited() }

// StepWithProof executes one instruction and returns its proof exactly as
// `cannon run --proof-at` computes it: Step is the step executed, Pre the
// claim before it, Post the claim after it, StateData the pre-state
// witness, ProofData the thread and memory proofs, and the oracle fields
// when the instruction read a preimage. On an exited state it executes
// nothing and returns ErrExited (use ExtensionProof for the trace past the end).
func (m *Machine) StepWithProof() (*Proof, error) {
	if err := m.ready(); err != nil {
		return nil, err
	}
	step := m.Step()
	wit, err := m.step(true)
	if err != nil {
		return nil, err
	}
	_, post := m.st.EncodeWitness()
	p := &Proof{
		Step:      step,
		Pre:       wit.StateHash,
		Post:      post,
		StateData: wit.State,
		ProofData: wit.ProofData,
	}
	if wit.HasPreimage() {
		p.OracleKey = wit.PreimageKey[:]
		p.OracleValue = wit.PreimageValue
		p.OracleOffset = wit.PreimageOffset
	}
	return p, nil
}

// RunTo steps without proofs until Step() == target or the program exits,
// checking ctx every 4096 steps. A target behind the current step is an
// error; an exited program is not (RunTo returns nil at once).
func (m *Machine) RunTo(ctx context.Context, target uint64) error {
	if m.broken != nil {
		return m.broken
	}
	if step := m.Step(); target < step && !m.Exited() {
		return fmt.Errorf("run to step %d: the machine is already at step %d", target, step)
	}
	for n := 0; !m.Exited() && m.Step() < target; n++ {
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("run to step %d: stopped at step %d: %w", target, m.Step(), err)
			}
		}
		if _, err := m.step(false); err != nil {
			if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
				return fmt.Errorf("%w (%w)", err, cerr)
			}
			return err
		}
	}
	return nil
}

// stepOne executes one instruction without a proof; Run uses it.
func (m *Machine) stepOne() error {
	if err := m.ready(); err != nil {
		return err
	}
	_, err := m.step(false)
	return err
}

func (m *Machine) ready() error {
	if m.broken != nil {
		return m.broken
	}
	if m.Exited() {
		return fmt.Errorf("step %d: %w with code %d", m.Step(), ErrExited, m.st.GetExitCode())
	}
	return nil
}

// step runs Cannon's Step, turning its panics into an error naming the step
// and the program counter.
func (m *Machine) step(proof bool) (wit *mipsevm.StepWitness, err error) {
	step, pc := m.Step(), arch.Word(0)
	defer func() {
		if r := recover(); r != nil {
			cause, ok := r.(error)
			if !ok {
				cause = fmt.Errorf("%v", r)
			}
			err = fmt.Errorf("step %d (pc %#x): %w", step, pc, cause)
			m.broken = fmt.Errorf("%w: %w", ErrBroken, err)
		}
	}()
	pc = m.st.GetPC() // panics on an empty thread stack: inside the recover
	wit, err = m.fpvm.Step(proof)
	if err != nil {
		err = fmt.Errorf("step %d (pc %#x): %w", step, pc, err)
		m.broken = fmt.Errorf("%w: %w", ErrBroken, err)
	}
	return wit, err
}
