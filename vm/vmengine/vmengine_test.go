package vmengine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ethereum-optimism/optimism/cannon/mipsevm/versions"
	preimage "github.com/ethereum-optimism/optimism/op-preimage"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/proofd/proofd/artifact"
	"github.com/proofd/proofd/engine"
	"github.com/proofd/proofd/engine/enginetest"
	"github.com/proofd/proofd/engine/vmclient"
	"github.com/proofd/proofd/internal/cannontest"
	"github.com/proofd/proofd/vm"
	"github.com/proofd/proofd/vm/vmengine"
)

func guest(name string) string { return filepath.Join("..", "..", "testdata", "guests", name+".elf") }

func inProcess(t *testing.T) *engine.Conn { return inProcessWith(t, vmengine.Options{}) }

func inProcessWith(t *testing.T, opts vmengine.Options) *engine.Conn {
	t.Helper()
	cfg, err := vmengine.Config(nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	return enginetest.InProcess(t, cfg)
}

func spawned(t *testing.T) *engine.Conn { return enginetest.Spawn(t, "vm") }

func TestConformanceInProcess(t *testing.T) { enginetest.Run(t, inProcess) }
func TestConformanceSpawned(t *testing.T)   { enginetest.Run(t, spawned) }

// prestate loads a guest ELF and encodes it as format wants: "snapshot"
// (proofd) or "bin" (Cannon).
func prestate(t *testing.T, name, format string) (*versions.VersionedState, artifact.Artifact) {
	t.Helper()
	st, _, err := vm.LoadELF(guest(name))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "prestate")
	if format == "bin" {
		path += ".bin"
	}
	if err := vm.WriteState(path, st); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return st, artifact.New(b)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// reference answers the same questions as Cannon does from the snapshot
// the engine starts from: for the proof of step i, the nearest snapshot
// strictly before i on the engine's grid of `every` steps (Cannon's proof
// data carries a leftover second memory proof that depends on where a run
// started; see machineAt). It asks the real `cannon` binary: cannon
// writes the grid's snapshots, and `cannon run --proof-at =i` from the
// right one writes the proof. Under -short, or with no cannon binary (a
// skip, or a failure with PROOFD_REQUIRE_CANNON set), Cannon's library
// answers instead, under -short only.
type reference struct {
	prestate *versions.VersionedState
	every    uint64
	oracle   func() vm.Oracle
	dir      string   // cannon's working directory; "" for the library
	server   []string // cannon's preimage server, after "--"
}

// newReference prepares answers for steps up to last. server is the
// preimage server cannon runs; oracle, the library's equivalent.
func newReference(t *testing.T, st *versions.VersionedState, every, last uint64, oracle func() vm.Oracle, server []string) *reference {
	t.Helper()
	if oracle == nil {
		oracle = func() vm.Oracle { return nil }
	}
	r := &reference{prestate: st, every: every, oracle: oracle}
	if testing.Short() {
		t.Log("-short: comparing with Cannon's library, not the cannon binary")
		return r
	}
	cannontest.Binary(t)
	r.dir, r.server = t.TempDir(), server
	if err := vm.WriteState(filepath.Join(r.dir, "prestate.bin.gz"), st); err != nil {
		t.Fatal(err)
	}
	r.cannon(t, "--input", "prestate.bin.gz", "--snapshot-at", fmt.Sprintf("%%%d", every),
		"--snapshot-fmt", "state-%d.bin.gz", "--stop-at", fmt.Sprintf("=%d", last+1))
	return r
}

func (r *reference) cannon(t *testing.T, args ...string) {
	t.Helper()
	args = append([]string{"run", "--output", "", "--meta", ""}, args...)
	if len(r.server) > 0 {
		args = append(append(args, "--"), r.server...)
	}
	cannontest.Run(t, r.dir, args...)
}

// from is the engine's snapshot for the proof of step i.
func (r *reference) from(i uint64) uint64 {
	if i == 0 {
		return 0
	}
	return (i - 1) / r.every * r.every
}

// at returns the claim at step i and the proof of step i.
func (r *reference) at(t *testing.T, i uint64) ([32]byte, *vm.Proof) {
	t.Helper()
	if r.dir == "" {
		return r.library(t, i)
	}
	name := fmt.Sprintf("proof-%d.json", i)
	r.cannon(t, "--input", fmt.Sprintf("state-%d.bin.gz", r.from(i)), "--proof-at", fmt.Sprintf("=%d", i),
		"--proof-fmt", "proof-%d.json", "--stop-at", fmt.Sprintf("=%d", i+1))
	b, err := os.ReadFile(filepath.Join(r.dir, name))
	if err != nil {
		t.Fatal(err)
	}
	var p vm.Proof
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatalf("cannon's %s: %v", name, err)
	}
	if p.Step != i {
		t.Fatalf("cannon's %s is for step %d", name, p.Step)
	}
	return p.Pre, &p
}

// library is at with Cannon's library in place of the binary.
func (r *reference) library(t *testing.T, i uint64) ([32]byte, *vm.Proof) {
	t.Helper()
	run := func(st *versions.VersionedState, to uint64) *vm.Machine {
		c, err := vm.Clone(st)
		if err != nil {
			t.Fatal(err)
		}
		m := vm.NewMachine(c, r.oracle(), nil, nil, nil)
		if err := m.RunTo(context.Background(), to); err != nil {
			t.Fatal(err)
		}
		return m
	}
	snap := run(r.prestate, r.from(i)).State() // as if loaded from the snapshot file
	m := run(snap, i)
	claim := vm.Claim(m.State())
	p, err := m.StepWithProof()
	if err != nil {
		t.Fatal(err)
	}
	return claim, p
}

func sameStep(t *testing.T, i uint64, got *vmclient.StepData, want *vm.Proof) {
	t.Helper()
	var diff []string
	check := func(field string, ok bool) {
		if !ok {
			diff = append(diff, field)
		}
	}
	check("step", got.Step == want.Step)
	check("pre", got.Pre == want.Pre)
	check("post", got.Post == want.Post)
	check("state-data", bytes.Equal(got.StateData, want.StateData))
	check(fmt.Sprintf("proof-data (first difference at byte %d of %d/%d)", firstDiff(got.ProofData, want.ProofData), len(got.ProofData), len(want.ProofData)), bytes.Equal(got.ProofData, want.ProofData))
	check("oracle-key", bytes.Equal(got.OracleKey, want.OracleKey))
	check("oracle-value", bytes.Equal(got.OracleValue, want.OracleValue))
	check("oracle-offset", got.OracleOffset == uint64(want.OracleOffset))
	if len(diff) > 0 {
		t.Fatalf("step data at %d differs from Cannon's in %v", i, diff)
	}
}

func firstDiff(a, b []byte) int {
	for k := range min(len(a), len(b)) {
		if a[k] != b[k] {
			return k
		}
	}
	return min(len(a), len(b))
}

// TestTraceMatchesCannon asks a warm engine about steps in a scrambled
// order and checks every answer against Cannon's VM stepped from the
// prestate; past the exit, the answers are the final state's.
func TestTraceMatchesCannon(t *testing.T) {
	formats, random := []string{"snapshot", "bin"}, 3
	if testing.Short() { // -race -short: the same questions, fewer of them
		formats, random = formats[:1], 2
	}
	// One set of questions and Cannon's answers for both formats: the
	// state is the same, only the engine's decoder differs.
	st, _, err := vm.LoadELF(guest("hello"))
	if err != nil {
		t.Fatal(err)
	}
	end := exitStep(t, st)
	steps := []uint64{0, 1, 2, 199_999, 200_000, 200_001, 777_777, end / 2, end - 2, end - 1}
	for range random {
		steps = append(steps, rand.Uint64N(end))
	}
	slices.Sort(steps)
	steps = slices.Compact(steps)
	ref := newReference(t, st, 200_000, slices.Max(steps), nil, nil)
	want := map[uint64][32]byte{}
	proofs := map[uint64]*vm.Proof{}
	for _, i := range steps {
		want[i], proofs[i] = ref.at(t, i)
	}
	for _, format := range formats {
		t.Run(format, func(t *testing.T) {
			st, pre := prestate(t, "hello", format)
			c := inProcess(t)
			tr, err := vmclient.NewTrace(ctxT(t), c, vmclient.LoadRequest{Prestate: pre, SnapshotEvery: 200_000})
			if err != nil {
				t.Fatal(err)
			}
			info := tr.Info()
			if !info.Exited || info.EndStep != end || info.Snapshots < 5 {
				t.Fatalf("load: %+v, want a run that exits at step %d with several snapshots", info, end)
			}
			if abs, _ := tr.AbsolutePreStateCommitment(ctxT(t)); abs != vm.Claim(st) {
				t.Fatal("prestate commitment differs from Cannon's claim of the prestate")
			}
			// Ask out of order: backwards, then shuffled.
			order := slices.Clone(steps)
			slices.Reverse(order)
			shuffled := slices.Clone(steps)
			rand.Shuffle(len(shuffled), func(a, b int) { shuffled[a], shuffled[b] = shuffled[b], shuffled[a] })
			for _, i := range append(order, shuffled...) {
				got, err := tr.Get(ctxT(t), i)
				if err != nil {
					t.Fatal(err)
				}
				if got != want[i] {
					t.Fatalf("claim at %d differs from Cannon's", i)
				}
				sd, err := vmclient.New(c).StepDataAt(ctxT(t), pre.Digest, i)
				if err != nil {
					t.Fatal(err)
				}
				sameStep(t, i, sd, proofs[i])
			}
			// Past the exit: the final state.
			for _, i := range []uint64{end, end + 1, end + 1_000_000} {
				cl, err := vmclient.New(c).ClaimAt(ctxT(t), pre.Digest, i)
				if err != nil {
					t.Fatal(err)
				}
				if cl.Claim != info.FinalClaim || !cl.Exited || cl.Step != end {
					t.Fatalf("claim at %d past the exit at %d: %+v", i, end, cl)
				}
				sd, err := vmclient.New(c).StepDataAt(ctxT(t), pre.Digest, i)
				if err != nil {
					t.Fatal(err)
				}
				if sd.Pre != info.FinalClaim || sd.Post != info.FinalClaim || len(sd.ProofData) != 0 {
					t.Fatalf("step data at %d past the exit: pre %x post %x proof %d bytes", i, sd.Pre, sd.Post, len(sd.ProofData))
				}
			}
			fin, err := vmclient.New(c).Final(ctxT(t), pre.Digest)
			if err != nil || fin.Claim != info.FinalClaim || fin.ExitCode != 0 {
				t.Fatalf("final: %+v %v", fin, err)
			}
		})
	}
}

// exitStep runs a copy of st with Cannon's library to its exit.
func exitStep(t *testing.T, st *versions.VersionedState) uint64 {
	t.Helper()
	c, err := vm.Clone(st)
	if err != nil {
		t.Fatal(err)
	}
	m := vm.NewMachine(c, nil, nil, nil, nil)
	if err := m.RunTo(context.Background(), math.MaxUint64); err != nil || !m.Exited() {
		t.Fatalf("running to the exit: %v (exited: %v)", err, m.Exited())
	}
	return m.Step()
}

var guestInput = []byte("proofd preimage guest: a keccak preimage served through Cannon's oracle protocol")

// serverArgv runs this test binary as a preimage server serving guestKV;
// children inherit the mode from the environment.
func serverArgv(t *testing.T) []string {
	t.Setenv(serverModeEnv, "kv") // for children only: TestMain read it long ago
	// A -race binary sleeps a second before it exits; not the server.
	t.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return []string{exe}
}

func guestKV() map[[32]byte][]byte {
	h := crypto.Keccak256(guestInput)
	return map[[32]byte][]byte{
		preimage.LocalIndexKey(1).PreimageKey():                               h,
		preimage.Keccak256Key(crypto.Keccak256Hash(guestInput)).PreimageKey(): guestInput,
	}
}

// countingOracle counts preimage reads, to find the steps that make them.
type countingOracle struct {
	vm.Oracle
	reads int
}

func (o *countingOracle) GetPreimage(k [32]byte) []byte {
	o.reads++
	return o.Oracle.GetPreimage(k)
}

// readSteps finds the steps of st's run that read a preimage.
func readSteps(t *testing.T, st *versions.VersionedState) []uint64 {
	c, _ := vm.Clone(st)
	o := &countingOracle{Oracle: vm.NewKVOracle(guestKV())}
	m := vm.NewMachine(c, o, nil, nil, nil)
	var steps []uint64
	for !m.Exited() {
		before, at := o.reads, m.Step()
		if err := m.RunTo(context.Background(), at+1); err != nil {
			t.Fatal(err)
		}
		if o.reads != before {
			steps = append(steps, at)
		}
	}
	return steps
}

func TestPreimageReads(t *testing.T) {
	st, pre := prestate(t, "preimage", "snapshot")
	reads := readSteps(t, st)
	if len(reads) < 2 {
		t.Fatalf("the preimage guest read %d preimages, want at least 2", len(reads))
	}
	c := inProcess(t)
	tr, err := vmclient.NewTrace(ctxT(t), c, vmclient.LoadRequest{Prestate: pre, SnapshotEvery: 100_000, Preimages: guestKV()})
	if err != nil {
		t.Fatal(err)
	}
	last := reads[len(reads)-1]
	ref := newReference(t, st, 100_000, last, func() vm.Oracle { return vm.NewKVOracle(guestKV()) }, serverArgv(t))
	for _, i := range []uint64{reads[0], last} {
		_, want := ref.at(t, i)
		_, _, pd, err := tr.GetStepData(ctxT(t), i)
		if err != nil {
			t.Fatal(err)
		}
		if pd == nil || !bytes.Equal(pd.Key, want.OracleKey) || !bytes.Equal(pd.Value, want.OracleValue) || pd.Offset != uint64(want.OracleOffset) {
			t.Fatalf("preimage data at %d = %+v, Cannon reads key %x value %x offset %d", i, pd, want.OracleKey, want.OracleValue, want.OracleOffset)
		}
	}
	// Without the preimages the run cannot get past the first read.
	_, pre2 := prestate(t, "preimage", "bin")
	_, err = vmclient.New(c).Load(ctxT(t), vmclient.LoadRequest{Prestate: pre2})
	if err == nil {
		t.Fatal("a run whose preimages are missing loaded")
	}
}

func TestBadPrestate(t *testing.T) {
	c := inProcess(t)
	_, pre := prestate(t, "hello", "snapshot")
	for name, data := range map[string][]byte{
		"garbage":   []byte("this is not a VM state"),
		"truncated": pre.Data[:len(pre.Data)/2],
		"empty":     {},
	} {
		_, err := vmclient.New(c).Load(ctxT(t), vmclient.LoadRequest{Prestate: artifact.New(data)})
		var ie *engine.InputError
		if !errors.As(err, &ie) || ie.Input != "prestate" {
			t.Errorf("%s prestate: got %v, want an InputError naming the prestate", name, err)
		}
	}
	if _, err := vmclient.New(c).ClaimAt(ctxT(t), artifact.Digest{7}, 1); err == nil {
		t.Error("claim about a prestate that was never loaded succeeded")
	}
}

// TestSpawnedTrace: the same questions through a VM engine process.
func TestSpawnedTrace(t *testing.T) {
	st, pre := prestate(t, "hello", "snapshot")
	c := spawned(t)
	tr, err := vmclient.NewTrace(ctxT(t), c, vmclient.LoadRequest{Prestate: pre})
	if err != nil {
		t.Fatal(err)
	}
	ref := newReference(t, st, vmengine.DefaultSnapshotEvery, 1_000_000, nil, nil)
	want, _ := ref.at(t, 1_000_000)
	got, err := tr.Get(ctxT(t), 1_000_000)
	if err != nil || got != want {
		t.Fatalf("claim at 1e6 from a spawned engine: %x, %v; Cannon: %x", got, err, want)
	}
}

// TestSnapshotsStayBounded: a run with far more snapshot points than the
// cap keeps at most MaxSnapshots, evenly spaced, and still answers right.
func TestSnapshotsStayBounded(t *testing.T) {
	st, pre := prestate(t, "hello", "snapshot")
	c := inProcess(t)
	info, err := vmclient.New(c).Load(ctxT(t), vmclient.LoadRequest{Prestate: pre, SnapshotEvery: 20_000})
	if err != nil {
		t.Fatal(err)
	}
	if info.Snapshots > vmengine.MaxSnapshots || info.Snapshots < vmengine.MaxSnapshots/2 {
		t.Fatalf("%d snapshots for %d steps every 20000, want between %d and %d", info.Snapshots, info.EndStep, vmengine.MaxSnapshots/2, vmengine.MaxSnapshots)
	}
	// A claim depends only on the state, not on where stepping started.
	ref := newReference(t, st, 1_000_000, 1_234_567, nil, nil)
	want, _ := ref.at(t, 1_234_567)
	got, err := vmclient.New(c).ClaimAt(ctxT(t), pre.Digest, 1_234_567)
	if err != nil || got.Claim != want {
		t.Fatalf("claim at 1234567: %v %v", got, err)
	}
}

// TestAbsurdCannonCounts: damaged counts in a Cannon state (the thread
// stacks sit at its tail) are refused as bad input, or load if they happen
// to still describe a state; nothing allocates what a count claims, and the
// engine goes on serving.
func TestAbsurdCannonCounts(t *testing.T) {
	_, pre := prestate(t, "hello", "bin")
	c := inProcess(t)
	refused, stride := 0, 7
	if testing.Short() {
		stride = 31
	}
	for off := len(pre.Data) - 1; off > len(pre.Data)-400 && off > 0; off -= stride {
		b := bytes.Clone(pre.Data)
		b[off] ^= 0xf0
		_, err := vmclient.New(c).Load(ctxT(t), vmclient.LoadRequest{Prestate: artifact.New(b), MaxSteps: 1000})
		var ie *engine.InputError
		if errors.As(err, &ie) {
			refused++
		}
	}
	if refused == 0 {
		t.Fatal("no damaged prestate was refused as bad input")
	}
	if _, err := c.Health(ctxT(t)); err != nil {
		t.Fatalf("engine after damaged prestates: %v", err)
	}
}
