package bbapi_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/proofd/proofd/bb/bbapi"
	"github.com/proofd/proofd/bb/bbtest"
	"github.com/proofd/proofd/bb/crs"
	"github.com/proofd/proofd/engine/enginetest"
)

func TestMain(m *testing.M) { enginetest.Main(m) }

// crsDir is a writable copy of the committed CRS.
func crsDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := crs.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// start starts bb on one thread with a fresh CRS copy; Close runs at the
// end of the test.
func start(t *testing.T) *bbapi.Process {
	t.Helper()
	p, err := bbapi.Start(bbapi.Config{Path: bbtest.BB(t), CRSDir: crsDir(t), Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// prove is the request that proves a fixture.
func prove(f bbtest.Fixture, settings bbapi.Settings) *bbapi.CircuitProve {
	return &bbapi.CircuitProve{
		Circuit:  bbapi.CircuitInput{Name: f.Name, Bytecode: f.ACIR},
		Witness:  f.Witness,
		Settings: settings,
	}
}

var (
	poseidon2 = bbapi.Settings{OracleHashType: bbapi.OracleHashPoseidon2}
	keccak    = bbapi.Settings{OracleHashType: bbapi.OracleHashKeccak}
)

func TestProveVerifyRoundTrip(t *testing.T) {
	p := start(t)
	tiny := bbtest.Load(t, "tiny")
	ctx := context.Background()
	t0 := time.Now()
	pr, err := p.Prove(ctx, prove(tiny, poseidon2))
	if err != nil {
		t.Fatal(err)
	}
	tProve := time.Since(t0)
	if len(pr.Proof) == 0 || len(pr.Vk.Bytes) == 0 {
		t.Fatalf("prove: %d proof fields, %d vk bytes", len(pr.Proof), len(pr.Vk.Bytes))
	}
	// tiny's one public input is z = x*y.
	if len(pr.PublicInputs) != 1 {
		t.Errorf("public inputs: %d, want 1", len(pr.PublicInputs))
	}
	t0 = time.Now()
	v, err := p.Verify(ctx, &bbapi.CircuitVerify{
		VerificationKey: pr.Vk.Bytes,
		PublicInputs:    pr.PublicInputs,
		Proof:           pr.Proof,
		Settings:        poseidon2,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !v.Verified {
		t.Fatal("proof did not verify")
	}
	t.Logf("tiny: prove %v (%d proof fields, vk %d bytes), verify %v", tProve, len(pr.Proof), len(pr.Vk.Bytes), time.Since(t0))
}

// A proof with one field changed does not verify. bb 5.0.0 answers
// verified=false for a changed scalar and an ErrorResponse ("Deserialized
// point is not on the curve") for a changed commitment coordinate; either
// way it keeps serving.
func TestTamperedProof(t *testing.T) {
	p := start(t)
	tiny := bbtest.Load(t, "tiny")
	ctx := context.Background()
	pr, err := p.Prove(ctx, prove(tiny, poseidon2))
	if err != nil {
		t.Fatal(err)
	}
	verify := func(what string, pub, proof []bbapi.Field) {
		t.Helper()
		v, err := p.Verify(ctx, &bbapi.CircuitVerify{VerificationKey: pr.Vk.Bytes, PublicInputs: pub, Proof: proof, Settings: poseidon2})
		var bbErr *bbapi.BBError
		switch {
		case errors.As(err, &bbErr):
			t.Logf("%s: %v", what, err)
		case err != nil:
			t.Fatalf("%s: %v, want verified=false or a *BBError", what, err)
		case v.Verified:
			t.Errorf("%s: verified", what)
		default:
			t.Logf("%s: verified=false", what)
		}
	}
	for _, i := range []int{0, len(pr.Proof) / 2, len(pr.Proof) - 1} {
		proof := slices.Clone(pr.Proof)
		proof[i][31] ^= 1
		verify(fmt.Sprintf("proof field %d of %d changed", i, len(proof)), pr.PublicInputs, proof)
	}
	pub := slices.Clone(pr.PublicInputs)
	pub[0][31] ^= 1
	verify("public input changed", pub, pr.Proof)
	v, err := p.Verify(ctx, &bbapi.CircuitVerify{VerificationKey: pr.Vk.Bytes, PublicInputs: pr.PublicInputs, Proof: pr.Proof, Settings: poseidon2})
	if err != nil || !v.Verified {
		t.Fatalf("the untouched proof after the tampered ones: verified %v, err %v", v != nil && v.Verified, err)
	}
}

// Junk bytecode gets a *BBError and bb serves the next call.
func TestJunkBytecode(t *testing.T) {
	p := start(t)
	tiny := bbtest.Load(t, "tiny")
	ctx := context.Background()
	junk := prove(tiny, poseidon2)
	junk.Circuit.Bytecode = []byte("this is not ACIR")
	_, err := p.Prove(ctx, junk)
	var bbErr *bbapi.BBError
	if !errors.As(err, &bbErr) || bbErr.Command != "CircuitProve" || bbErr.Message == "" {
		t.Fatalf("junk bytecode: %v, want a *BBError from CircuitProve", err)
	}
	if errors.Is(err, bbapi.ErrDied) {
		t.Fatalf("junk bytecode: %v is ErrDied", err)
	}
	t.Logf("junk bytecode: %v", err)
	if _, err := p.Prove(ctx, prove(tiny, poseidon2)); err != nil {
		t.Fatalf("prove after junk: %v", err)
	}
}

func TestStats(t *testing.T) {
	p := start(t)
	ctx := context.Background()
	for _, name := range []string{"tiny", "hashchain"} {
		f := bbtest.Load(t, name)
		s, err := p.Stats(ctx, &bbapi.CircuitStats{
			Circuit:               bbapi.CircuitInput{Name: name, Bytecode: f.ACIR},
			IncludeGatesPerOpcode: true,
			Settings:              poseidon2,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d gates, dyadic %d, %d ACIR opcodes", name, s.NumGates, s.NumGatesDyadic, s.NumAcirOpcodes)
		if s.NumGates == 0 || s.NumGatesDyadic < s.NumGates || s.NumGatesDyadic&(s.NumGatesDyadic-1) != 0 {
			t.Errorf("%s: %d gates, dyadic size %d: want a power of two at least the gates", name, s.NumGates, s.NumGatesDyadic)
		}
		if s.NumAcirOpcodes == 0 || len(s.GatesPerOpcode) != int(s.NumAcirOpcodes) {
			t.Errorf("%s: %d opcodes, %d gates-per-opcode entries", name, s.NumAcirOpcodes, len(s.GatesPerOpcode))
		}
	}
}

// The verification key is the same bytes every time, and the same as the
// one Prove returns.
func TestVkDeterministic(t *testing.T) {
	p := start(t)
	tiny := bbtest.Load(t, "tiny")
	ctx := context.Background()
	req := &bbapi.CircuitComputeVk{Circuit: bbapi.CircuitInputNoVK{Name: "tiny", Bytecode: tiny.ACIR}, Settings: poseidon2}
	a, err := p.ComputeVk(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.ComputeVk(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Bytes) == 0 || !bytes.Equal(a.Bytes, b.Bytes) || !bytes.Equal(a.Hash, b.Hash) {
		t.Fatalf("vk differs between two calls (%d and %d bytes)", len(a.Bytes), len(b.Bytes))
	}
	pr, err := p.Prove(ctx, prove(tiny, poseidon2))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pr.Vk.Bytes, a.Bytes) {
		t.Error("Prove's vk differs from ComputeVk's")
	}
	t.Logf("vk: %d bytes, %d fields, hash %d bytes", len(a.Bytes), len(a.Fields), len(a.Hash))
}

// A proof made with keccak as the oracle hash verifies with keccak
// settings, and the Solidity verifier is made from its key.
func TestKeccak(t *testing.T) {
	p := start(t)
	tiny := bbtest.Load(t, "tiny")
	ctx := context.Background()
	pr, err := p.Prove(ctx, prove(tiny, keccak))
	if err != nil {
		t.Fatal(err)
	}
	v, err := p.Verify(ctx, &bbapi.CircuitVerify{VerificationKey: pr.Vk.Bytes, PublicInputs: pr.PublicInputs, Proof: pr.Proof, Settings: keccak})
	if err != nil || !v.Verified {
		t.Fatalf("keccak proof with keccak settings: verified %v, err %v", v != nil && v.Verified, err)
	}
	v, err = p.Verify(ctx, &bbapi.CircuitVerify{VerificationKey: pr.Vk.Bytes, PublicInputs: pr.PublicInputs, Proof: pr.Proof, Settings: poseidon2})
	if err == nil && v.Verified {
		t.Error("keccak proof verified with poseidon2 settings")
	}
	t.Logf("keccak proof with poseidon2 settings: verified %v, err %v", v != nil && v.Verified, err)
	sol, err := p.SolidityVerifier(ctx, &bbapi.CircuitWriteSolidityVerifier{VerificationKey: pr.Vk.Bytes, Settings: keccak})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sol.SolidityCode, "contract ") {
		t.Errorf("Solidity verifier of %d bytes has no contract", len(sol.SolidityCode))
	}
}

// SIGKILL of bb during a call is ErrDied, for that call and every later
// one, and bb is reaped.
func TestKilledMidCall(t *testing.T) {
	p := start(t)
	f := bbtest.Load(t, "hashchain") // about 1.5 s to prove on one thread
	ctx := context.Background()
	time.AfterFunc(200*time.Millisecond, func() { syscall.Kill(p.Pid(), syscall.SIGKILL) })
	t0 := time.Now()
	_, err := p.Prove(ctx, prove(f, poseidon2))
	if !errors.Is(err, bbapi.ErrDied) {
		t.Fatalf("prove while bb is killed: %v, want ErrDied", err)
	}
	t.Logf("after %v: %v", time.Since(t0), err)
	select {
	case <-p.Exited():
	default:
		t.Error("bb not reaped after ErrDied")
	}
	if _, err := p.Stats(ctx, &bbapi.CircuitStats{Circuit: bbapi.CircuitInput{Bytecode: f.ACIR}, Settings: poseidon2}); !errors.Is(err, bbapi.ErrDied) {
		t.Errorf("call after the death: %v, want ErrDied", err)
	}
}

// ctx done during a call kills bb: the error is both ctx's and ErrDied.
func TestContextKillsBB(t *testing.T) {
	p := start(t)
	f := bbtest.Load(t, "hashchain")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	_, err := p.Prove(ctx, prove(f, poseidon2))
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, bbapi.ErrDied) {
		t.Fatalf("prove past its deadline: %v, want DeadlineExceeded and ErrDied", err)
	}
	if d := time.Since(t0); d > time.Second {
		t.Errorf("call returned %v after a 200ms deadline", d)
	}
	select {
	case <-p.Exited():
	default:
		t.Error("bb not reaped")
	}
}

// Close shuts bb down cleanly and leaves no process.
func TestCloseLeavesNoProcess(t *testing.T) {
	p := start(t)
	tiny := bbtest.Load(t, "tiny")
	if _, err := p.Stats(context.Background(), &bbapi.CircuitStats{Circuit: bbapi.CircuitInput{Bytecode: tiny.ACIR}, Settings: poseidon2}); err != nil {
		t.Fatal(err)
	}
	pid := p.Pid()
	t0 := time.Now()
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	t.Logf("Close took %v", time.Since(t0))
	if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid))); err == nil {
		t.Errorf("bb (pid %d) still in /proc after Close", pid)
	}
	if kids, err := enginetest.Children(); err != nil || len(kids) != 0 {
		t.Errorf("children after Close: %v, %v", kids, err)
	}
	if _, err := p.Stats(context.Background(), &bbapi.CircuitStats{}); !errors.Is(err, bbapi.ErrClosed) {
		t.Errorf("call after Close: %v, want ErrClosed", err)
	}
}

// Close during a long call does not wait past CloseTimeout: it kills bb,
// and the call fails with ErrDied.
func TestCloseDuringCall(t *testing.T) {
	p, err := bbapi.Start(bbapi.Config{Path: bbtest.BB(t), CRSDir: crsDir(t), Threads: 1, CloseTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	f := bbtest.Load(t, "hashchain")
	errc := make(chan error, 1)
	go func() {
		_, err := p.Prove(context.Background(), prove(f, poseidon2))
		errc <- err
	}()
	time.Sleep(100 * time.Millisecond)
	t0 := time.Now()
	if err := p.Close(); err == nil {
		t.Error("Close during a call: no error, want one saying bb was killed")
	}
	if d := time.Since(t0); d > 2*time.Second {
		t.Errorf("Close took %v with a 200ms timeout", d)
	}
	if err := <-errc; !errors.Is(err, bbapi.ErrDied) {
		t.Errorf("call cut by Close: %v, want ErrDied", err)
	}
}

// fakeBB starts a shell script in place of bb; these tests need no bb.
func fakeBB(t *testing.T, script string, closeTimeout time.Duration) *bbapi.Process {
	t.Helper()
	path := filepath.Join(t.TempDir(), "bb")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+script+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	p, err := bbapi.Start(bbapi.Config{Path: path, CRSDir: t.TempDir(), CloseTimeout: closeTimeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// A bb that exits, or answers what the protocol does not allow, fails the
// call with ErrDied naming what happened, and is killed and reaped.
func TestFakeBBDies(t *testing.T) {
	for _, c := range []struct{ name, script, msg string }{
		{"exits", "exit 3", "exit status 3"},
		{"oversized frame", `printf '\377\377\377\377'; exec cat >/dev/null`, "4294967295 bytes, limit is"},
		// It reads the request's first byte before it answers and exits, so
		// the request is written whole (one write) and the answer is what fails.
		{"short frame", `head -c 1 >/dev/null; printf '\010\000\000\000\222'; exit 0`, "short frame body: 1 of 8 bytes"},
		{"not a response", `printf '\001\000\000\000\300'; exec cat >/dev/null`, "not a 2-element [name, body] array"},
		{"unknown response", `printf '\006\000\000\000\222\243Foo\200'; exec cat >/dev/null`, `unknown response "Foo"`},
		{"wrong response", `printf '\023\000\000\000\222\260ShutdownResponse\200'; exec cat >/dev/null`, "answered ShutdownResponse, want CircuitInfoResponse"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := fakeBB(t, c.script, time.Second)
			_, err := p.Stats(context.Background(), &bbapi.CircuitStats{})
			if !errors.Is(err, bbapi.ErrDied) || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("%v, want ErrDied saying %q", err, c.msg)
			}
			select {
			case <-p.Exited():
			default:
				t.Error("not reaped")
			}
			if err := p.Close(); err != nil {
				t.Errorf("Close after a reported death: %v", err)
			}
		})
	}
}

// An ErrorResponse is a *BBError, and the process serves on.
func TestFakeBBError(t *testing.T) {
	// ["ErrorResponse", {"message": "no"}], twice, then EOF.
	p := fakeBB(t, `f='\033\000\000\000\222\255ErrorResponse\201\247message\242no'; printf "$f$f"; exec cat >/dev/null`, time.Second)
	for range 2 {
		_, err := p.Verify(context.Background(), &bbapi.CircuitVerify{})
		var bbErr *bbapi.BBError
		if !errors.As(err, &bbErr) || *bbErr != (bbapi.BBError{Command: "CircuitVerify", Message: "no"}) {
			t.Fatalf("%v, want bb's ErrorResponse as a *BBError", err)
		}
	}
}

// A bb that does not answer Shutdown is killed after CloseTimeout.
func TestFakeBBCloseTimeout(t *testing.T) {
	p := fakeBB(t, "exec sleep 60", 200*time.Millisecond)
	t0 := time.Now()
	err := p.Close()
	if err == nil || !strings.Contains(err.Error(), "killed bb") {
		t.Errorf("Close of a silent bb: %v, want an error saying it was killed", err)
	}
	if d := time.Since(t0); d > 2*time.Second {
		t.Errorf("Close took %v with a 200ms timeout", d)
	}
}

// A ctx already done, or done while the call waits for the one before,
// sends nothing and leaves bb serving.
func TestContextDoneBeforeSend(t *testing.T) {
	p := fakeBB(t, `f='\042\000\000\000\222\265CircuitVerifyResponse\201\250verified\303'; sleep 0.3; printf "$f$f"; exec cat >/dev/null`, time.Second)
	done, cancel := context.WithCancel(context.Background())
	cancel()
	for range 20 {
		if _, err := p.Verify(done, &bbapi.CircuitVerify{}); !errors.Is(err, context.Canceled) || errors.Is(err, bbapi.ErrDied) {
			t.Fatalf("call with a done ctx: %v, want Canceled and not ErrDied", err)
		}
	}
	first := make(chan error, 1)
	go func() {
		_, err := p.Verify(context.Background(), &bbapi.CircuitVerify{})
		first <- err
	}()
	time.Sleep(50 * time.Millisecond) // the first call now holds the process
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := p.Verify(short, &bbapi.CircuitVerify{}); !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, bbapi.ErrDied) {
		t.Fatalf("call timing out behind another: %v, want DeadlineExceeded and not ErrDied", err)
	}
	if err := <-first; err != nil {
		t.Fatalf("first call: %v", err)
	}
	if v, err := p.Verify(context.Background(), &bbapi.CircuitVerify{}); err != nil || !v.Verified {
		t.Fatalf("call after the cancelled ones: %v, %v", v, err)
	}
}
